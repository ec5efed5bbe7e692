"""Remind me later: scheduling, cancelling, suppression after a gift, and retention.

The sender (``sender.py``) claims and sends due reminders; everything else that
changes a reminder lives here. Each change is one SQL statement, so concurrent
sign-ups, cancels, gifts and workers cannot interleave badly.
"""

from __future__ import annotations

import calendar
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Boolean, bindparam, select, text, update

from membership import clock, money
from membership.attribution import source_of
from membership.config import FREQUENCIES, Settings
from membership.database import scrub_after_erasure
from membership.extensions import db
from membership.i18n import current_language, gettext, lazy_gettext
from membership.models import Supporter, normalise_email
from membership.reminders.counted import COUNTED_TIMES, announce_set, announce_sign_up
from membership.reminders.models import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    Reminder,
    status_in_sql,
)
from membership.sql import statements

# Reminders go out from this hour (UTC) of the day asked: early in the day in Europe and
# Africa, overnight in the Americas (read with the morning's mail).
SEND_HOUR_UTC = 8
WHEN_CHOICES = {
    "1w": lazy_gettext("In 1 week"),
    "1m": lazy_gettext("In 1 month"),
    "3m": lazy_gettext("In 3 months"),
}
DEFAULT_WHEN = "1m"
MAX_DAYS_AHEAD = 366
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InvalidSignup(ValueError):
    """The sign-up cannot be accepted; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class UnknownReminder(LookupError):
    """No reminder has this token."""


@dataclass(frozen=True)
class Consideration:
    """The gift the reader was looking at, to prefill ``/support`` from the email."""

    frequency: str | None = None
    amount_minor: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Signup:
    """A validated request for a reminder."""

    email: str
    due_on: date
    consideration: Consideration
    source: str | None
    # The language the reader asked in; the reminder email is written in it.
    language: str | None = None


def due_date(when: str, today: date) -> date:
    """The day a reminder is due: ``1w``, ``1m``, ``3m`` from today, or an ISO date.

    Dates must be after today and at most a year ahead; months keep the day of
    the month where they can (31 January + 1 month is 28 or 29 February).
    """
    when = (when or "").strip()
    if when == "1w":
        return today + timedelta(days=7)
    if when in ("1m", "3m"):
        return _add_months(today, 1 if when == "1m" else 3)
    if not _ISO_DATE.match(when):
        raise InvalidSignup({"when": gettext("Choose in 1 week, 1 month, 3 months, or a date.")})
    try:
        chosen = date.fromisoformat(when)
    except ValueError:
        raise InvalidSignup(
            {"when": gettext("That date does not exist; use YYYY-MM-DD.")}
        ) from None
    if chosen <= today:
        raise InvalidSignup({"when": gettext("Choose a date after today.")})
    if chosen > today + timedelta(days=MAX_DAYS_AHEAD - 1):
        raise InvalidSignup({"when": gettext("Choose a date within the next year.")})
    return chosen


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last_day))


def due_at(day: date) -> datetime:
    return datetime.combine(day, time(SEND_HOUR_UTC), tzinfo=UTC)


def parse_signup(settings: Settings, fields: Mapping[str, str], today: date) -> Signup:
    """Validate a sign-up from the form or the JSON widget; every problem is reported at once.

    ``fields`` holds ``email`` (already checked for shape by the form), ``when``
    and optionally ``frequency``, ``amount``, ``currency``, ``source``. The reminder keeps
    the language the reader is served in (``membership.i18n``) for its email.
    """
    errors: dict[str, str] = {}
    email = normalise_email(fields.get("email") or "")
    if not email:
        errors["email"] = gettext("Enter your email address.")
    day = None
    try:
        day = due_date(fields.get("when") or DEFAULT_WHEN, today)
    except InvalidSignup as exc:
        errors.update(exc.errors)
    consideration = consideration_of(settings, fields)
    source = source_of(fields.get("source"))  # the page, not the reader's query
    if errors or day is None:
        raise InvalidSignup(errors)
    return Signup(
        email=email,
        due_on=day,
        consideration=consideration,
        source=source,
        language=current_language(),
    )


def consideration_of(settings: Settings, fields: Mapping[str, str]) -> Consideration:
    """What the reader was considering, each part kept only if valid.

    These come in hidden fields, from the article's link or widget: the reader can neither
    see nor fix them, so a value we would not accept is dropped (the reminder then links
    to the support page's defaults for it), never reported as the reader's error; the
    support page treats unknown values the same way."""
    frequency = (fields.get("frequency") or "").strip() or None
    if frequency not in FREQUENCIES:
        frequency = None
    currency = (fields.get("currency") or "").strip().upper() or None
    if currency not in settings.currencies:
        currency = None
    amount_text = (fields.get("amount") or "").strip()
    if not amount_text:
        return Consideration(frequency, None, currency)
    priced_in = currency or settings.default_currency
    try:
        amount = money.parse_amount(amount_text, priced_in)
    except money.InvalidAmount:
        return Consideration(frequency, None, currency)
    rule = settings.amount_rule(frequency or "once", priced_in)
    if not rule.minimum <= amount <= rule.maximum:
        return Consideration(frequency, None, currency)
    return Consideration(frequency, amount, priced_in)


def schedule_reminder(
    signup: Signup, now: datetime | None = None, *, wanted: bool = True
) -> Reminder | None:
    """Schedule the reminder unless the address has an active one; None when nothing was
    scheduled.

    Anyone may type any address, so a sign-up never changes an active reminder (its
    owner's date, gift or page): it is ignored. ``wanted=False`` (a sign-up over the
    per-email limit) drops it. Every case runs the same one statement and commit, so the
    answer's timing says nothing about the address; the partial unique index on active
    emails keeps one active reminder per email under concurrent sign-ups.
    """
    now = now or clock.now()
    values = {
        "email": signup.email,
        "token": secrets.token_urlsafe(32),
        "due_at": due_at(signup.due_on),
        "frequency": signup.consideration.frequency,
        "amount_minor": signup.consideration.amount_minor,
        "currency": signup.consideration.currency,
        "source": signup.source,
        "language": signup.language,
        "status": "scheduled",
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "wanted": wanted,
    }
    statement = _insert_unless_active(db.session.get_bind().dialect.name)
    scheduled = db.session.scalars(statement, values).first()
    announce_sign_up(values, inserted=scheduled is not None)
    db.session.commit()
    return scheduled


# The columns a sign-up sets; the rest keep their defaults.
_SIGNUP_COLUMNS = (
    "email",
    "token",
    "due_at",
    "frequency",
    "amount_minor",
    "currency",
    "source",
    "language",
    "status",
    "attempts",
    "created_at",
    "updated_at",
)


@cache
def _insert_unless_active(dialect: str) -> Any:
    """``INSERT INTO reminders (...) SELECT :values WHERE :wanted ON CONFLICT DO NOTHING
    RETURNING``: a dropped sign-up sends the very statement an accepted one does."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = Reminder.__table__
    row = select(*(bindparam(name, type_=table.c[name].type) for name in _SIGNUP_COLUMNS)).where(
        bindparam("wanted", type_=Boolean())
    )
    returning = (
        insert(table).from_select(list(_SIGNUP_COLUMNS), row).on_conflict_do_nothing()
    ).returning(*table.c)
    return select(Reminder).from_statement(returning)


def reminder_by_token(token: str) -> Reminder:
    """The reminder behind a link in an email."""
    reminder = (
        db.session.scalar(select(Reminder).where(Reminder.token == token))
        if 20 <= len(token) <= 64
        else None
    )
    if reminder is None:
        raise UnknownReminder(token[:8])
    return reminder


def reminder_token_for_id(reminder_id: int | None) -> str | None:
    """The token of a reminder (for the reader's own page, never for a third party)."""
    if reminder_id is None:
        return None
    return db.session.scalar(select(Reminder.token).where(Reminder.id == reminder_id))


def reminder_id_for_token(token: str | None) -> int | None:
    """The id of the reminder a support-page visit came back through; None if unknown."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(Reminder.id).where(Reminder.token == token))


def cancel_reminder(token: str, now: datetime | None = None) -> Reminder:
    """Cancel at once (one click, or the mail client's RFC 8058 POST); repeating is harmless.

    A reminder being sent right now is cancelled too: the sender re-checks the
    status just before sending.
    """
    now = now or clock.now()
    cancelled = db.session.scalar(
        update(Reminder)
        .where(Reminder.token == token, Reminder.status.in_(ACTIVE_STATUSES))
        .values(status="cancelled", cancelled_at=now, updated_at=now)
        .returning(Reminder)
        .execution_options(populate_existing=True)
    )
    db.session.commit()
    return cancelled if cancelled is not None else reminder_by_token(token)


_REMINDERS = Reminder.__table__
_SUPPORTERS = Supporter.__table__


# Built once: the webhook path runs them for every new payment. Each is one index look-up
# (the giver's active reminder by email; the reminder by id), however many reminders wait
# to be sent: one statement for both, an OR of the two, was planned as a scan of every
# reminder on a database not yet analyzed, and kept so by the prepared statement.
_CONVERT_GIVERS_REMINDER = statements.Statement(
    update(_REMINDERS)
    .where(
        _REMINDERS.c.email
        == select(_SUPPORTERS.c.email)
        .where(_SUPPORTERS.c.id == bindparam("supporter_id"))
        .scalar_subquery(),
        text(status_in_sql(ACTIVE_STATUSES)),
        _REMINDERS.c.created_at <= bindparam("paid_at"),
    )
    .values(status="converted", converted_at=bindparam("now"), updated_at=bindparam("now"))
    .returning(*COUNTED_TIMES)
)
_CONVERT_LINKED_REMINDER = statements.Statement(
    update(_REMINDERS)
    .where(
        _REMINDERS.c.id == bindparam("reminder_id"),
        text(status_in_sql((*ACTIVE_STATUSES, "sent"))),
    )
    .values(status="converted", converted_at=bindparam("now"), updated_at=bindparam("now"))
    .returning(*COUNTED_TIMES)
)


def suppress_after_gift(sender: object = None, *, supporter_id: int, paid_at: datetime) -> None:
    """A payment reached a supporter (``hooks.payment_recorded``): their active reminder
    will never be sent.

    Runs in the ledger's transaction (one UPDATE). Only reminders asked for before the
    payment count: giving last year does not cancel today's request.
    """
    converted = _CONVERT_GIVERS_REMINDER.rows(
        supporter_id=supporter_id, paid_at=paid_at, now=clock.now()
    )
    announce_set(converted, "converted_at")


def convert_linked_reminder(
    sender: object = None, *, attempt_id: str, reminder_id: int | None
) -> None:
    """A gift made through a reminder's link was paid (``hooks.attempt_paid``), one time or
    recurring alike: the reminder counts as converted (one UPDATE, in the ledger's
    transaction)."""
    if reminder_id is not None:
        converted = _CONVERT_LINKED_REMINDER.rows(reminder_id=reminder_id, now=clock.now())
        announce_set(converted, "converted_at")


def erase_old_emails(retention_days: int, now: datetime | None = None) -> int:
    """Erase the email of reminders finished more than ``retention_days`` ago.

    The rows stay (status and dates) so staff reports can still count them.
    """
    now = now or clock.now()
    erased = db.session.execute(
        update(Reminder)
        .where(
            Reminder.status.in_(FINISHED_STATUSES),
            Reminder.email.is_not(None),  # as ix_reminders_erasable says it
            Reminder.updated_at < now - timedelta(days=retention_days),
        )
        .values(email=None, email_erased_at=now)
        .returning(Reminder.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    if erased:  # gone from the files too, not only from the rows
        scrub_after_erasure(db.session, ("reminders",))
    return len(erased)
