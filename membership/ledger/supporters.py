"""Finding the supporter behind a payment: by Stripe customer first, then by email."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from membership import clock
from membership.database import insert_unless_exists
from membership.extensions import db
from membership.models import Payment, PaymentFailure, RecurringSupport, Supporter, normalise_email

MAX_EMAIL_LENGTH = 254


def find_or_create_supporter(
    *, customer_id: str | None, email: str | None, name: str | None = None
) -> Supporter | None:
    """The supporter for this customer or email, created when first seen with an email.

    A customer id learnt later is attached to the supporter found by email, and
    anything already recorded under that customer is linked to them.
    """
    if email and len(normalise_email(email)) > MAX_EMAIL_LENGTH:
        email = None  # not storable; the customer id may still find them
    supporter = _find(customer_id, email)
    learnt_customer = False
    if supporter is None:
        if not email:
            return None
        supporter = _insert_supporter(email, customer_id, name)
        learnt_customer = bool(customer_id)
    elif customer_id and supporter.stripe_customer_id is None:
        supporter.stripe_customer_id = customer_id
        learnt_customer = True
    if name and not supporter.name:
        supporter.name = name[:200]
    if learnt_customer and customer_id:
        db.session.flush()
        link_customer_records(customer_id, supporter.id)
    return supporter


def _find(customer_id: str | None, email: str | None) -> Supporter | None:
    """One query: the supporter with this customer id, else the one with this email."""
    conditions = []
    if customer_id:
        conditions.append(Supporter.stripe_customer_id == customer_id)
    if email:
        conditions.append(Supporter.email == normalise_email(email))
    if not conditions:
        return None
    found = db.session.scalars(select(Supporter).where(or_(*conditions)).limit(2)).all()
    for supporter in found:
        if customer_id and supporter.stripe_customer_id == customer_id:
            return supporter
    return found[0] if found else None


def _insert_supporter(email: str, customer_id: str | None, name: str | None) -> Supporter:
    """Insert, or take the row a concurrent transaction inserted first (unique email or
    customer id)."""
    supporter = insert_unless_exists(
        db.session,
        Supporter,
        {
            "email": normalise_email(email),
            "stripe_customer_id": customer_id,
            "name": name[:200] if name else None,
            "created_at": clock.now(),
        },
    )
    if supporter is None:
        supporter = _find(customer_id, email)
    if supporter is None:
        raise IntegrityError("supporter insert conflicted but no row was found", None, Exception())
    return supporter


def link_customer_records(customer_id: str, supporter_id: int) -> None:
    """Attach payments, recurring support and failures recorded before the supporter was known."""
    for model in (Payment, RecurringSupport, PaymentFailure):
        db.session.execute(
            update(model)
            .where(model.stripe_customer_id == customer_id, model.supporter_id.is_(None))
            .values(supporter_id=supporter_id)
            .execution_options(synchronize_session=False)
        )
