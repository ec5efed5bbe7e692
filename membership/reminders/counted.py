"""Telling the staff reports when a reminder is asked for, sent or converted.

The reports count reminders by those three times, in rollups kept on write
(``membership.reports.rollups``). The reminders' own statements set them (a sign-up's
INSERT, the sender's and the conversions' UPDATEs, never the ORM), so each announces what
it wrote, in the transaction that writes it, with the rules of the ledger's signals
(``membership.ledger.hooks``: a receiver writes in that transaction, through
``membership.sql.statements``, and does nothing slow); the reports subscribe.

A sign-up is announced whether it inserted a reminder or not: what a sign-up did to an
address must not show in how long it took, so its receivers do the same work either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from blinker import Namespace

from membership.reminders.models import Reminder

_signals = Namespace()

sign_up_answered = _signals.signal(
    "reminder-sign-up-answered",
    doc="""A sign-up's INSERT ran, in its transaction, before the commit: it inserted a
    reminder, or it did not (the address has an active reminder, or is over its limit).

    :sender: None
    :param reminder: the values the sign-up wrote or would have written (a mapping)
    :param inserted: whether a reminder was inserted (bool)
    """,
)

times_set = _signals.signal(
    "reminder-times-set",
    doc="""One statement set a counted time of some reminders, where it was NULL: a
    reminder is sent once and converted once (the sender's and the conversions' UPDATEs
    match only reminders whose status says it has not been). Sent once per statement,
    not per reminder, so that a batch of sends moves the reports' row once.

    :sender: None
    :param rows: each reminder's counted times (``COUNTED_TIMES``) as now written
        (a list of mappings, never empty)
    :param time: the column set: ``"sent_at"`` or ``"converted_at"`` (str)
    """,
)

_REMINDERS = Reminder.__table__
# What the reports count a reminder by: a statement that writes reminders returns these.
COUNTED_TIMES = (_REMINDERS.c.created_at, _REMINDERS.c.sent_at, _REMINDERS.c.converted_at)


def announce_sign_up(values: Mapping[str, Any], *, inserted: bool) -> None:
    """A sign-up's INSERT ran with these values, and inserted a reminder or not."""
    sign_up_answered.send(None, reminder=values, inserted=inserted)


def announce_set(rows: Iterable[Mapping[str, Any]], time: str) -> None:
    """The reminders of ``rows`` (their counted times as now written) had ``time`` set."""
    written = [dict(row) for row in rows]
    if written:
        times_set.send(None, rows=written, time=time)
