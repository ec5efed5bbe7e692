"""Checkout attempts: how each press of Continue ended, and the attribution it carries."""

from __future__ import annotations

from sqlalchemy import select

from membership.extensions import db
from membership.models import Attributed, CheckoutAttempt

# An attempt's status only moves forward, so events may arrive in any order.
_ATTEMPT_PROGRESS = {"open": 0, "awaiting_payment": 1, "expired": 2, "payment_failed": 3, "paid": 4}
ATTRIBUTION_COLUMNS = ("source", "utm_source", "utm_medium", "utm_campaign", "utm_content")


def find_attempt(attempt_id: str | None, session_id: str | None = None) -> CheckoutAttempt | None:
    """The attempt named in Stripe metadata, or else the one that opened this session."""
    if attempt_id:
        attempt = db.session.get(CheckoutAttempt, attempt_id[:32])
        if attempt is not None:
            return attempt
    if session_id:
        return db.session.scalar(
            select(CheckoutAttempt).where(CheckoutAttempt.stripe_session_id == session_id)
        )
    return None


def advance_attempt(attempt: CheckoutAttempt, status: str, supporter_id: int | None = None) -> None:
    """Move the attempt to ``status`` unless it already went further."""
    if _ATTEMPT_PROGRESS[status] > _ATTEMPT_PROGRESS.get(attempt.status, 0):
        attempt.status = status
    if supporter_id is not None and attempt.supporter_id is None:
        attempt.supporter_id = supporter_id


def copy_attribution(target: Attributed, attempt: CheckoutAttempt | None) -> None:
    """Give a payment or recurring support the attribution of the attempt that started it."""
    if attempt is None or target.checkout_attempt_id is not None:
        return
    target.checkout_attempt_id = attempt.id
    for column in ATTRIBUTION_COLUMNS:
        setattr(target, column, getattr(attempt, column))


def attribution_of(attempt: CheckoutAttempt | None) -> dict[str, str | None]:
    """The attribution columns for a new row started by this attempt (empty without one)."""
    if attempt is None:
        return {}
    return {
        "checkout_attempt_id": attempt.id,
        **{column: getattr(attempt, column) for column in ATTRIBUTION_COLUMNS},
    }


def copy_attribution_from(target: Attributed, origin: Attributed) -> None:
    """A renewal carries the attribution of the gift that started its recurring support."""
    if target.checkout_attempt_id is not None or origin.checkout_attempt_id is None:
        return
    target.checkout_attempt_id = origin.checkout_attempt_id
    for column in ATTRIBUTION_COLUMNS:
        setattr(target, column, getattr(origin, column))
