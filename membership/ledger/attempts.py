"""Checkout attempts: how each press of Continue ended, and the attribution it carries."""

from __future__ import annotations

from membership.ledger import hooks
from membership.models import CheckoutAttempt, is_public_id
from membership.sql.rows import Row, fetch_one, find_by_either
from membership.vocabulary import ATTRIBUTION_FIELDS, AttemptStatus

ATTEMPTS = CheckoutAttempt.__table__
# An attempt's status only moves forward, so events may arrive in any order.
_ATTEMPT_PROGRESS: dict[str, int] = {status: order for order, status in enumerate(AttemptStatus)}
ATTRIBUTION_COLUMNS = ATTRIBUTION_FIELDS

# One query for both ways of finding an attempt; the id, when it matches, wins.
_FIND_ATTEMPT = find_by_either(
    ATTEMPTS, (ATTEMPTS.c.id, "attempt_id"), (ATTEMPTS.c.stripe_session_id, "session_id")
)


def find_attempt(attempt_id: str | None, session_id: str | None = None) -> Row | None:
    """The attempt named in Stripe metadata, or else the one that opened this session.

    Metadata this app did not write (a Payment Link's, the dashboard's) may name anything;
    only an id of the shape we issue is looked up.
    """
    if not is_public_id(attempt_id):
        attempt_id = None
    if not attempt_id and not session_id:
        return None
    return fetch_one(_FIND_ATTEMPT, ATTEMPTS, attempt_id=attempt_id, session_id=session_id)


def advance_attempt(attempt: Row, status: str, supporter_id: int | None = None) -> None:
    """Move the attempt to ``status`` unless it already went further; the first time it is
    paid, say so (``hooks.attempt_paid``: the reminder it came back through converts)."""
    now_paid = status == AttemptStatus.PAID and attempt["status"] != AttemptStatus.PAID
    if _ATTEMPT_PROGRESS[status] > _ATTEMPT_PROGRESS.get(attempt["status"], 0):
        attempt["status"] = status
    if supporter_id is not None and attempt["supporter_id"] is None:
        attempt["supporter_id"] = supporter_id
    attempt.save()
    if now_paid:
        hooks.attempt_paid.send(attempt_id=attempt["id"], reminder_id=attempt["reminder_id"])


def copy_attribution(target: Row, origin: Row | None) -> None:
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
