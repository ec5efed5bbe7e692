"""Telling the staff reports when a reminder is asked for, sent or converted.

The reports count reminders by those three times, in rollups kept on write
(``membership.reports.rollups``). The reminders' own statements set them (a sign-up's
INSERT, the sender's and the conversions' UPDATEs, never the ORM), so each announces the
rows it wrote, in the transaction that writes them; the reports subscribe. Sends and
conversions use the signal the ledger's rows use (``hooks.row_written``). A sign-up has
its own (``sign_up_answered``), sent whether it inserted a reminder or not: what a
sign-up did to an address must not show in how long it took, so its receivers do the
same work either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from blinker import Namespace

from membership.ledger import hooks
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

_REMINDERS = Reminder.__table__
# What the reports count a reminder by: a statement that writes reminders returns these.
COUNTED_TIMES = (_REMINDERS.c.created_at, _REMINDERS.c.sent_at, _REMINDERS.c.converted_at)


def announce_sign_up(values: Mapping[str, Any], *, inserted: bool) -> None:
    """A sign-up's INSERT ran with these values, and inserted a reminder or not."""
    sign_up_answered.send(None, reminder=values, inserted=inserted)


def announce_set(rows: Iterable[Mapping[str, Any]], time: str) -> None:
    """Each reminder of ``rows`` (its counted times as now written) had ``time`` set, where
    it was NULL: a reminder is sent once and converted once (the statements that set them
    match only reminders whose status says they have not been)."""
    for row in rows:
        after = dict(row)
        hooks.row_written.send(_REMINDERS, before={**after, time: None}, after=after)
