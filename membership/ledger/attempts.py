"""Checkout attempts: how each press of Continue ended, and the attribution it carries."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, update

from membership.ledger.records import Prepared, Record, fetch_one, select_all
from membership.models import CheckoutAttempt

ATTEMPTS = CheckoutAttempt.__table__
# An attempt's status only moves forward, so events may arrive in any order.
_ATTEMPT_PROGRESS = {"open": 0, "awaiting_payment": 1, "expired": 2, "payment_failed": 3, "paid": 4}
# The shape of the ids this app gives attempts (membership.models.new_public_id).
_ATTEMPT_ID = re.compile(r"[0-9a-f]{32}")
ATTRIBUTION_COLUMNS = ("source", "utm_source", "utm_medium", "utm_campaign", "utm_content")

# The attempt named in metadata, else the one that opened the session: the id, when it
# matches, wins.
_THE_ATTEMPT = (
    select(ATTEMPTS.c.id)
    .where(
        or_(
            ATTEMPTS.c.id == bindparam("attempt_id"),
            ATTEMPTS.c.stripe_session_id == bindparam("session_id"),
        )
    )
    .order_by(case((ATTEMPTS.c.id == bindparam("attempt_id"), 0), else_=1))
    .limit(1)
    .scalar_subquery()
)


def _advance_to(status: str) -> Prepared:
    """One statement that finds the attempt, moves it to ``status`` unless it already went
    further, keeps the first supporter it learns, and returns it."""
    behind = [name for name, rank in _ATTEMPT_PROGRESS.items() if rank < _ATTEMPT_PROGRESS[status]]
    return Prepared(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.id == _THE_ATTEMPT)
        .values(
            status=case(
                (or_(*(ATTEMPTS.c.status == name for name in behind)), status),
                else_=ATTEMPTS.c.status,
            ),
            supporter_id=func.coalesce(ATTEMPTS.c.supporter_id, bindparam("supporter_id")),
        )
        .returning(*ATTEMPTS.c)
    )


_ADVANCE = {status: _advance_to(status) for status in _ATTEMPT_PROGRESS if status != "open"}


def advance_attempt(
    attempt_id: str | None, session_id: str | None, status: str, supporter_id: int | None = None
) -> Record | None:
    """Move the attempt named in Stripe metadata (or else the one that opened this session)
    to ``status`` unless it already went further; the attempt, or None.

    Metadata this app did not write (a Payment Link's, the dashboard's) may name anything;
    only an id of the shape we issue is looked up.
    """
    if attempt_id is not None and not _ATTEMPT_ID.fullmatch(attempt_id):
        attempt_id = None
    if not attempt_id and not session_id:
        return None
    row = _ADVANCE[status].first(
        attempt_id=attempt_id, session_id=session_id, supporter_id=supporter_id
    )
    return Record(ATTEMPTS, row, stored=True) if row is not None else None


def find_attempt(attempt_id: str | None) -> Record | None:
    """The attempt named in a subscription's metadata (copied there by Checkout), if ours."""
    if attempt_id is None or not _ATTEMPT_ID.fullmatch(attempt_id):
        return None
    return fetch_one(_FIND_ATTEMPT, ATTEMPTS, attempt_id=attempt_id)


_FIND_ATTEMPT = Prepared(select_all(ATTEMPTS).where(ATTEMPTS.c.id == bindparam("attempt_id")))


def attribution_of(attempt: Record | None) -> dict[str, Any]:
    """The attribution columns for a new row started by this attempt (empty without one)."""
    if attempt is None:
        return {}
    return {
        "checkout_attempt_id": attempt["id"],
        **{column: attempt[column] for column in ATTRIBUTION_COLUMNS},
    }


def copy_attribution(target: Record, origin: Record | None) -> None:
    """Give a payment or recurring support the attribution of the gift that started it:
    its checkout attempt, or (for a renewal) the recurring support it belongs to."""
    if origin is None or target["checkout_attempt_id"] is not None:
        return
    origin_attempt = origin["id"] if origin.table is ATTEMPTS else origin["checkout_attempt_id"]
    if origin_attempt is None:
        return
    target["checkout_attempt_id"] = origin_attempt
    for column in ATTRIBUTION_COLUMNS:
        target[column] = origin[column]
