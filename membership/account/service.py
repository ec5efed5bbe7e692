"""Supporters' own accounts: sign-in by emailed link, the signed-in session, what the
account page shows, the data export, and changes asked of Stripe.

Nobody may use this to learn whether an address supports us, or to mail a reader at
will: a request for a link runs the same one statement and commit for any address
(``request_sign_in_link``), and the email goes out later, from the sender
(``sender.py``), so the answer's timing says nothing either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)

from membership import clock
from membership.account.models import SignInLink, SupportChange
from membership.columns import UTCDateTime, normalise_email
from membership.database import scrub_after_erasure
from membership.extensions import db
from membership.ledger.models import (
    CheckoutAttempt,
    Payment,
    PaymentFailure,
    RecurringSupport,
    SupersededEmail,
    Supporter,
)
from membership.newsletter.models import Subscriber
from membership.notices.models import Notice
from membership.reminders.models import Reminder
from membership.web.digits import is_digits

LINK_LIFETIME = timedelta(minutes=30)
SESSION_IDLE = timedelta(hours=1)
# However active, a session ends this long after its link was used: a copied cookie
# cannot be kept alive for ever, and the link's row can be forgotten soon after.
SESSION_MAX = timedelta(hours=12)
# Used sign-in links (and so the record that a supporter signed in) are deleted after this.
LINK_RETENTION = timedelta(days=1)
# A change asked of Stripe shows as "being updated" (and holds back another) until its
# webhook arrives, or for this long at most: a webhook lost never locks a gift for good.
CHANGE_PATIENCE = timedelta(hours=1)

# The reader's session cookie holds these, and nothing else of the account.
SUPPORTER_KEY = "account.supporter_id"
LINK_KEY = "account.link_id"
SEEN_KEY = "account.seen_at"
_TOKEN_SALT = b"membership.account.sign-in:"


class NoStripeCustomer(LookupError):
    """The supporter has no Stripe customer (their gifts predate it): no portal to open."""


class NotTheirs(LookupError):
    """No such recurring gift among the signed-in supporter's own."""


# -- sign-in links ------------------------------------------------------------------------


def token_for(nonce: str, secret_key: str) -> str:
    """The link's token: an HMAC of its nonce under ``SECRET_KEY`` (43 characters)."""
    digest = hmac.new(secret_key.encode(), _TOKEN_SALT + nonce.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


_LINKS = SignInLink.__table__
_SUPPORTERS = Supporter.__table__
_QUEUED_COLUMNS = ("supporter_id", "token_hash", "nonce", "status", "attempts", "created_at")


@cache
def _queue_link_statement() -> Any:
    """``INSERT INTO account_sign_in_links (...) SELECT supporters.id, :values FROM
    supporters WHERE email = :email AND :wanted``: a row only for a supporter's address,
    the very same statement for any other (or a request over the per-email limit)."""
    row = select(
        _SUPPORTERS.c.id,
        bindparam("token_hash", type_=String()),
        bindparam("nonce", type_=String()),
        bindparam("status", type_=String()),
        bindparam("attempts", type_=Integer()),
        bindparam("now", type_=UTCDateTime()),
        bindparam("expires_at", type_=UTCDateTime()),
    ).where(_SUPPORTERS.c.email == bindparam("email"), bindparam("wanted", type_=Boolean()))
    return insert(_LINKS).from_select([*_QUEUED_COLUMNS, "expires_at"], row)


def request_sign_in_link(
    email: str, secret_key: str, *, wanted: bool = True, now: datetime | None = None
) -> None:
    """Queue a sign-in link for ``email`` if it is a supporter's; otherwise nothing.

    The same work whoever asks: one INSERT ... SELECT and a commit, writing a row only
    when the address is a supporter's and ``wanted`` (False: over the per-email limit).
    """
    now = now or clock.now()
    nonce = secrets.token_urlsafe(32)
    db.session.execute(
        _queue_link_statement(),
        {
            "email": normalise_email(email),
            "wanted": wanted,
            "token_hash": token_hash(token_for(nonce, secret_key)),
            "nonce": nonce,
            "status": "queued",
            "attempts": 0,
            "now": now,
            "expires_at": now + LINK_LIFETIME,
        },
    )
    db.session.commit()


def _plausible(token: str) -> bool:
    return 20 <= len(token) <= 64


def link_is_usable(token: str, now: datetime | None = None) -> bool:
    """Whether the token opens an unused, unexpired link (the page before signing in)."""
    if not _plausible(token):
        return False
    now = now or clock.now()
    found = db.session.scalar(
        select(SignInLink.id).where(
            SignInLink.token_hash == token_hash(token),
            SignInLink.used_at.is_(None),
            SignInLink.expires_at > now,
        )
    )
    db.session.rollback()
    return found is not None


def sign_in(
    session: MutableMapping[str, Any], token: str, now: datetime | None = None
) -> int | None:
    """Use the link (once: one UPDATE ... WHERE used_at IS NULL) and sign ``session`` in
    as its supporter; the supporter's id, or None for an unknown, used or expired token."""
    if not _plausible(token):
        return None
    now = now or clock.now()
    used = db.session.execute(
        update(SignInLink)
        .where(
            SignInLink.token_hash == token_hash(token),
            SignInLink.used_at.is_(None),
            SignInLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(SignInLink.id, SignInLink.supporter_id)
    ).first()
    db.session.commit()
    if used is None:
        return None
    _forget_session(session)
    session[SUPPORTER_KEY] = used.supporter_id
    session[LINK_KEY] = used.id
    session[SEEN_KEY] = int(now.timestamp())
    return int(used.supporter_id)


def signed_in_supporter(
    session: MutableMapping[str, Any], now: datetime | None = None
) -> Supporter | None:
    """The supporter this session is signed in as, or None (and the session forgotten)
    when it never was, was idle an hour, is older than ``SESSION_MAX`` or was signed out.
    Each call counts as activity."""
    supporter_id, link_id, seen = (session.get(k) for k in (SUPPORTER_KEY, LINK_KEY, SEEN_KEY))
    if not (isinstance(supporter_id, int) and isinstance(link_id, int) and isinstance(seen, int)):
        if any(key in session for key in (SUPPORTER_KEY, LINK_KEY, SEEN_KEY)):
            _forget_session(session)
        return None
    now = now or clock.now()
    if now.timestamp() - seen >= SESSION_IDLE.total_seconds():
        _forget_session(session)
        return None
    supporter = db.session.scalar(
        select(Supporter)
        .join(SignInLink, SignInLink.supporter_id == Supporter.id)
        .where(
            SignInLink.id == link_id,
            Supporter.id == supporter_id,
            SignInLink.signed_out_at.is_(None),
            SignInLink.used_at > now - SESSION_MAX,
        )
    )
    if supporter is None:
        _forget_session(session)
        return None
    session[SEEN_KEY] = int(now.timestamp())
    return supporter


def sign_out(session: MutableMapping[str, Any], now: datetime | None = None) -> None:
    """End the session here and on the server: its cookie, even copied, opens nothing."""
    link_id = session.get(LINK_KEY)
    if isinstance(link_id, int):
        db.session.execute(
            update(SignInLink)
            .where(SignInLink.id == link_id, SignInLink.signed_out_at.is_(None))
            .values(signed_out_at=now or clock.now())
        )
        db.session.commit()
    _forget_session(session)


def _forget_session(session: MutableMapping[str, Any]) -> None:
    for key in (SUPPORTER_KEY, LINK_KEY, SEEN_KEY):
        session.pop(key, None)


def forget_old_links(now: datetime | None = None) -> int:
    """Delete links that expired unused (the request then leaves nothing), and used ones
    ``LINK_RETENTION`` after they were made (their session has ended); how many."""
    now = now or clock.now()
    deleted = db.session.execute(
        delete(SignInLink)
        .where(
            or_(
                and_(SignInLink.used_at.is_(None), SignInLink.expires_at <= now),
                SignInLink.created_at < now - LINK_RETENTION,
            )
        )
        .returning(SignInLink.id)
    ).all()
    db.session.commit()
    if deleted:  # gone from the files too, not only from the table
        scrub_after_erasure(db.session, ("account_sign_in_links",))
    return len(deleted)


# -- the account page ---------------------------------------------------------------------


@dataclass(frozen=True)
class Gift:
    """One payment as its giver sees it."""

    paid_on: date
    amount_minor: int
    refunded_minor: int
    currency: str
    frequency: str | None
    status: str


@dataclass(frozen=True)
class Recurring:
    """One recurring gift as its giver sees it; ``being_updated`` while a change asked of
    Stripe waits for Stripe's word."""

    id: int
    amount_minor: int | None
    currency: str | None
    frequency: str | None
    status: str
    cancel_at_period_end: bool
    started_on: date | None
    being_updated: bool
    # Stripe's ``pause_collection``: nothing is collected until ``resumes_on`` (or until
    # the supporter resumes it, when None).
    paused: bool = False
    resumes_on: date | None = None
    # When Stripe takes the next payment (the current period's end), while it renews.
    next_payment_on: date | None = None


@dataclass(frozen=True)
class Overview:
    gifts: list[Gift]
    recurring: list[Recurring]
    has_stripe_customer: bool


def overview(supporter: Supporter) -> Overview:
    """Every gift and recurring gift of this supporter, newest first."""
    payments = db.session.scalars(
        select(Payment)
        .where(Payment.supporter_id == supporter.id)
        .order_by(Payment.paid_at.desc(), Payment.id.desc())
    ).all()
    gifts = [
        Gift(
            paid_on=p.paid_at.date(),
            amount_minor=p.amount_minor,
            refunded_minor=p.amount_refunded_minor,
            currency=p.currency,
            frequency=p.frequency,
            status=p.status,
        )
        for p in payments
    ]
    recurring = [
        Recurring(
            id=r.id,
            amount_minor=r.amount_minor,
            currency=r.currency,
            frequency=r.frequency,
            status=r.status,
            cancel_at_period_end=r.cancel_at_period_end,
            started_on=r.started_at.date() if r.started_at else None,
            being_updated=change_is_pending(r),
            paused=r.collection_paused,
            resumes_on=r.collection_resumes_at.date() if r.collection_resumes_at else None,
            next_payment_on=_next_payment_on(r),
        )
        for r in _recurring_of(supporter)
    ]
    return Overview(gifts, recurring, supporter.stripe_customer_id is not None)


def _next_payment_on(recurring: RecurringSupport) -> date | None:
    """When Stripe takes the next payment: the current period's end, while the gift renews
    (the page leaves it out while collection is paused)."""
    renews = recurring.status in ("active", "trialing", "past_due")
    if not renews or recurring.cancel_at_period_end or recurring.current_period_end is None:
        return None
    return recurring.current_period_end.date()


def _recurring_of(supporter: Supporter) -> list[RecurringSupport]:
    return list(
        db.session.scalars(
            select(RecurringSupport)
            .where(RecurringSupport.supporter_id == supporter.id)
            .order_by(RecurringSupport.created_at.desc(), RecurringSupport.id.desc())
        )
    )


def change_is_pending(recurring: RecurringSupport, now: datetime | None = None) -> bool:
    """A change was asked for after the last state Stripe told us of, within
    ``CHANGE_PATIENCE``: the page says "being updated" and offers no other change."""
    now = now or clock.now()
    latest = db.session.scalar(
        select(SupportChange.requested_at)
        .where(SupportChange.recurring_support_id == recurring.id)
        .order_by(SupportChange.requested_at.desc())
        .limit(1)
    )
    if latest is None or latest < now - CHANGE_PATIENCE:
        return False
    # Stripe's events are timed in whole seconds: one of the request's own second counts.
    return recurring.status_as_of is None or recurring.status_as_of < latest.replace(microsecond=0)


# -- what we hold -------------------------------------------------------------------------


def _row(model: Any) -> dict[str, Any]:
    """Every column of a row, as JSON can carry it: new columns are exported as they come."""
    values: dict[str, Any] = {}
    for column in model.__table__.columns:
        value = getattr(model, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime | date) else value
    return values


# Keys to other things, not data about the person: left out of what they download.
_NOT_EXPORTED = {
    "reminders": {"token"},
    "account_sign_in_links": {"token_hash", "nonce"},
    "newsletter_subscribers": {"confirm_token_hash", "unsubscribe_token_hash"},
}


def _rows(models: Any) -> list[dict[str, Any]]:
    rows = []
    for model in models:
        row = _row(model)
        for key in _NOT_EXPORTED.get(model.__tablename__, ()):
            row.pop(key, None)
        rows.append(row)
    return rows


def supporter_data(supporter: Supporter) -> dict[str, Any]:
    """Everything held about a supporter, by table: their row, gifts, recurring gifts and
    the changes they asked for, checkout attempts, payment failures, former emails,
    reminders and newsletter sign-ups under their email, emails owed or sent to them
    (kinds and dates), and sign-in links (times only). The same for the supporter and for
    staff."""

    def of(model: Any, *where: Any) -> list[dict[str, Any]]:
        return _rows(db.session.scalars(select(model).where(*where).order_by(model.created_at)))

    return {
        "supporter": _row(supporter),
        "payments": of(Payment, Payment.supporter_id == supporter.id),
        "recurring_supports": of(RecurringSupport, RecurringSupport.supporter_id == supporter.id),
        "checkout_attempts": of(CheckoutAttempt, CheckoutAttempt.supporter_id == supporter.id),
        "payment_failures": _rows(
            db.session.scalars(
                select(PaymentFailure)
                .where(PaymentFailure.supporter_id == supporter.id)
                .order_by(PaymentFailure.failed_at)
            )
        ),
        "superseded_emails": _rows(
            db.session.scalars(
                select(SupersededEmail).where(SupersededEmail.supporter_id == supporter.id)
            )
        ),
        "reminders": of(Reminder, Reminder.email == supporter.email),
        "newsletter_subscriptions": _rows(
            db.session.scalars(select(Subscriber).where(Subscriber.email == supporter.email))
        ),
        "support_changes": _rows(
            db.session.scalars(
                select(SupportChange)
                .join(RecurringSupport, RecurringSupport.id == SupportChange.recurring_support_id)
                .where(RecurringSupport.supporter_id == supporter.id)
                .order_by(SupportChange.requested_at)
            )
        ),
        "notices": of(Notice, Notice.supporter_id == supporter.id),
        "sign_in_links": of(SignInLink, SignInLink.supporter_id == supporter.id),
    }


def supporter_by_email(email: str) -> Supporter | None:
    """The supporter with this email (staff's export only: never a reader's question)."""
    return db.session.scalar(select(Supporter).where(Supporter.email == normalise_email(email)))


def their_recurring(supporter: Supporter, recurring_id: int) -> RecurringSupport:
    """One of the supporter's own recurring gifts, under their own Stripe customer.

    :raise NotTheirs: no such gift, or another supporter's (or another customer's).
    """
    recurring = db.session.scalar(
        select(RecurringSupport).where(
            RecurringSupport.id == recurring_id,
            RecurringSupport.supporter_id == supporter.id,
        )
    )
    customer = supporter.stripe_customer_id
    if recurring is None or customer is None or recurring.stripe_customer_id != customer:
        raise NotTheirs(recurring_id)
    return recurring


def recurring_of_supporter(supporter: Supporter, recurring_id: str) -> RecurringSupport:
    """One of the supporter's recurring gifts by its id as a form sent it (staff acting
    for them: under whichever customer it was made).

    :raise NotTheirs: not an id, no such gift, or another supporter's.
    """
    recurring = None
    if is_digits(recurring_id) and int(recurring_id) < 2**31:
        recurring = db.session.scalar(
            select(RecurringSupport).where(
                RecurringSupport.id == int(recurring_id),
                RecurringSupport.supporter_id == supporter.id,
            )
        )
    if recurring is None:
        raise NotTheirs(recurring_id)
    return recurring
