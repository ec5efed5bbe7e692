"""What a browser test opens and reads back: the article page with its footer ready, the
terms on the fake Stripe Checkout, the rows in the database, the emails in the SMTP
server."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from membership.extensions import db
from membership.models import CheckoutAttempt
from membership.newsletter import sender
from membership.newsletter.models import Subscriber
from membership.newsletter.settings import EXTENSION
from membership.reminders.models import Reminder
from tests.browser.conftest import Site

FOOTER = '[data-mf="footer"]'  # the footer's root, in the script's shadow root or the frame


def open_article(page: Any, site: Site, **query: str) -> Any:
    """The article page with the script footer, once the footer is in it."""
    page.goto(site.article("script", **query))
    page.locator(FOOTER).wait_for()
    return page


def checkout_terms(page: Any) -> dict[str, str]:
    """The terms the fake Checkout page shows for its session, once the page is there."""
    page.wait_for_url(re.compile(r"/c/pay/cs_test_"))
    terms = page.locator("[data-term]")
    return {
        terms.nth(i).get_attribute("data-term"): terms.nth(i).inner_text()
        for i in range(terms.count())
    }


def checkout_attempts(site: Site) -> list[CheckoutAttempt]:
    with site.app.app_context():
        found = list(db.session.scalars(select(CheckoutAttempt)))
        db.session.expunge_all()
        return found


def reminders_for(site: Site, email: str) -> list[Reminder]:
    with site.app.app_context():
        found = list(db.session.scalars(select(Reminder).where(Reminder.email == email)))
        db.session.expunge_all()
        return found


def subscriber(site: Site, address: str) -> Subscriber | None:
    with site.app.app_context():
        found = db.session.scalars(select(Subscriber).where(Subscriber.email == address)).first()
        db.session.expunge_all()
        return found


def send_confirmations(site: Site) -> None:
    """What the reminder worker does every minute: send the confirmation emails due."""
    with site.app.app_context():
        report = sender.send_due_confirmations(
            site.app.extensions["membership.settings"], site.app.extensions[EXTENSION]
        )
    assert report.sent >= 1, report


def link_in_mail(site: Site, address: str, kind: str) -> str:
    """The newsletter email's ``confirm`` or ``unsubscribe`` link, a full address."""
    (message,) = site.smtp.messages_to(address)
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    (link,) = re.findall(rf"https?://\S+/newsletter/{kind}/[\w-]+", part.get_content())
    assert link.startswith(site.url), "the email's links lead back to the app"
    return str(link)
