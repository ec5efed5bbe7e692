"""Newsletter sign-up with recorded consent and double opt-in; confirm, unsubscribe, erase.

Anyone may type any address, so a sign-up proves nothing until its link is followed: it
never changes a row that exists (pending, confirmed), and every sign-up, accepted, ignored
or dropped, runs the same one statement and commit (``sign_up``). The confirmation email
is sent later by ``sender.py``, which makes the links' tokens; only their hashes are kept.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Boolean, bindparam, delete, select, update

from membership import clock
from membership.attribution import source_of
from membership.columns import normalise_email
from membership.database import scrub_after_erasure
from membership.extensions import db
from membership.i18n import current_language, gettext
from membership.newsletter.models import Subscriber
from membership.newsletter.settings import NewsletterSettings
from membership.vocabulary import ConfirmationMailStatus, NewsletterStatus

# A confirmation link works this long after sign-up; an unconfirmed sign-up is then erased.
CONFIRM_WITHIN = timedelta(days=7)
CONSENT_YES = frozenset({"true", "yes", "on", "y", "1"})
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,64}")


class InvalidSignup(ValueError):
    """The sign-up cannot be accepted; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class UnknownToken(LookupError):
    """No sign-up answers to this link (never made, used, expired, or erased)."""


@dataclass(frozen=True)
class Signup:
    """A validated sign-up, with the consent record it will be stored with."""

    email: str
    language: str
    source: str | None
    consent_wording: str
    privacy_url: str | None


def consent_wording(settings: NewsletterSettings) -> str:
    """The sentence the reader agrees to, exactly as shown beside the checkbox and stored:
    in the reader's language, so what is recorded is what they read."""
    wording = gettext(
        "Yes, email me the newsletter of %(publication)s. I can unsubscribe at any time with "
        "the link in every email.",
        publication=settings.publication_name,
    )
    if settings.privacy_policy_url:
        wording += " " + gettext("How my address is kept: %(url)s", url=settings.privacy_policy_url)
    return wording


def reading_language(settings: NewsletterSettings) -> str:
    """The language the reader is reading in when the newsletter is offered in it, else the
    newsletter's default."""
    reading = current_language()
    return reading if reading in settings.languages else settings.default_language


def token_hash(token: str) -> str:
    """What is stored of a link's token: its SHA-256 (the token has 256 random bits, so a
    hash without a key cannot be turned back into it)."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_signup(settings: NewsletterSettings, fields: Mapping[str, str]) -> Signup:
    """Validate a sign-up (``email`` already checked for shape by the form); every problem
    is reported at once. ``consent`` must say yes; ``lang`` one of NEWSLETTER_LANGUAGES;
    ``source`` is kept as attribution keeps pages (cut, never refused). Without ``lang``,
    the language the reader is reading in, if the newsletter is offered in it."""
    errors: dict[str, str] = {}
    email = normalise_email(fields.get("email") or "")
    if not email:
        errors["email"] = gettext("Enter your email address.")
    if (fields.get("consent") or "").strip().lower() not in CONSENT_YES:
        errors["consent"] = gettext("Tick the box to agree to receive the newsletter.")
    language = (fields.get("lang") or "").strip().lower() or reading_language(settings)
    if language not in settings.languages:
        errors["lang"] = gettext(
            "Choose one of the languages offered: %(languages)s",
            languages=", ".join(settings.languages),
        )
    if errors:
        raise InvalidSignup(errors)
    return Signup(
        email=email,
        language=language,
        source=source_of(fields.get("source")),
        consent_wording=consent_wording(settings),
        privacy_url=settings.privacy_policy_url,
    )


def sign_up(signup: Signup, now: datetime | None = None, *, wanted: bool = True) -> None:
    """Queue a pending sign-up (and so its confirmation email) unless the address has a row.

    A known address (pending or confirmed) keeps its row untouched and gets no second email;
    ``wanted=False`` (over the per-email limit) drops the sign-up. All three run the very
    statement a new address does, and commit, so neither the answer nor its timing says
    which happened; the unique email column settles concurrent sign-ups.
    """
    now = now or clock.now()
    values = {
        "email": signup.email,
        "language": signup.language,
        "source": signup.source,
        "status": NewsletterStatus.PENDING.value,
        "consent_wording": signup.consent_wording,
        "consent_privacy_url": signup.privacy_url,
        "consented_at": now,
        "mail_status": ConfirmationMailStatus.QUEUED.value,
        "mail_attempts": 0,
        "wanted": wanted,
    }
    db.session.execute(_insert_unless_known(db.session.get_bind().dialect.name), values)
    db.session.commit()


_SIGNUP_COLUMNS = (
    "email",
    "language",
    "source",
    "status",
    "consent_wording",
    "consent_privacy_url",
    "consented_at",
    "mail_status",
    "mail_attempts",
)


@cache
def _insert_unless_known(dialect: str) -> Any:
    """``INSERT ... SELECT :values WHERE :wanted ON CONFLICT DO NOTHING``, as reminders do."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = Subscriber.__table__
    row = select(*(bindparam(name, type_=table.c[name].type) for name in _SIGNUP_COLUMNS)).where(
        bindparam("wanted", type_=Boolean())
    )
    return insert(table).from_select(list(_SIGNUP_COLUMNS), row).on_conflict_do_nothing()


def _hash_of(token: str) -> str:
    if not _TOKEN_SHAPE.fullmatch(token):
        raise UnknownToken()
    return token_hash(token)


def confirm(token: str, now: datetime | None = None) -> Subscriber:
    """Confirm the sign-up behind a confirmation link: once, within 7 days of signing up.

    :raise UnknownToken: no pending sign-up has this token (wrong, used, or expired);
        nothing is changed then.
    """
    now = now or clock.now()
    confirmed = db.session.scalar(
        update(Subscriber)
        .where(
            Subscriber.confirm_token_hash == _hash_of(token),
            Subscriber.status == NewsletterStatus.PENDING,
            Subscriber.consented_at > now - CONFIRM_WITHIN,
        )
        .values(status=NewsletterStatus.CONFIRMED, confirmed_at=now, confirm_token_hash=None)
        .returning(Subscriber)
        .execution_options(populate_existing=True)
    )
    db.session.commit()
    if confirmed is None:
        raise UnknownToken()
    return confirmed


def subscription_for_unsubscribe(token: str) -> Subscriber:
    """The sign-up an unsubscribe link names (for the page that asks to confirm).

    :raise UnknownToken: none does (wrong, already unsubscribed, or erased).
    """
    found = db.session.scalar(
        select(Subscriber).where(
            Subscriber.unsubscribe_token_hash == _hash_of(token),
            Subscriber.email.is_not(None),
        )
    )
    if found is None:
        raise UnknownToken()
    return found


def unsubscribe(token: str, now: datetime | None = None) -> str:
    """Unsubscribe at once (one click, or the mail client's RFC 8058 POST) and forget the
    address: a pending sign-up is deleted; a subscriber's row keeps only its dates,
    language and page, for the counts. Returns the status it had.

    :raise UnknownToken: no sign-up holding an address has this token; nothing changes.
    """
    now = now or clock.now()
    digest = _hash_of(token)
    deleted = db.session.execute(
        delete(Subscriber)
        .where(
            Subscriber.unsubscribe_token_hash == digest,
            Subscriber.status == NewsletterStatus.PENDING,
        )
        .returning(Subscriber.id)
        .execution_options(synchronize_session=False)
    ).all()
    was = NewsletterStatus.PENDING
    if not deleted:
        was = NewsletterStatus.CONFIRMED
        deleted = db.session.execute(
            update(Subscriber)
            .where(
                Subscriber.unsubscribe_token_hash == digest,
                Subscriber.status == NewsletterStatus.CONFIRMED,
            )
            .values(
                status=NewsletterStatus.UNSUBSCRIBED,
                unsubscribed_at=now,
                email=None,
                consent_wording=None,
                consent_privacy_url=None,
                confirm_token_hash=None,
                unsubscribe_token_hash=None,
                last_error=None,
            )
            .returning(Subscriber.id)
            .execution_options(synchronize_session=False)
        ).all()
    db.session.commit()
    if not deleted:
        raise UnknownToken()
    scrub_after_erasure(db.session, (Subscriber.__tablename__,))
    return was


def erase_unconfirmed(now: datetime | None = None) -> int:
    """Delete every sign-up left unconfirmed 7 days after it was made; returns how many.

    Run by ``flask newsletter erase`` and by ``flask newsletter send`` before it sends.
    """
    now = now or clock.now()
    erased = db.session.execute(
        delete(Subscriber)
        .where(
            Subscriber.status == NewsletterStatus.PENDING,
            Subscriber.consented_at <= now - CONFIRM_WITHIN,
        )
        .returning(Subscriber.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    if erased:
        scrub_after_erasure(db.session, (Subscriber.__tablename__,))
    return len(erased)
