"""Finding the supporter behind a payment: by Stripe customer first, then by email."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from membership.extensions import db
from membership.models import Payment, PaymentFailure, RecurringSupport, Supporter, normalise_email


def find_or_create_supporter(
    *, customer_id: str | None, email: str | None, name: str | None = None
) -> Supporter | None:
    """The supporter for this customer or email, created when first seen with an email.

    A customer id learnt later is attached to the supporter found by email, and
    anything already recorded under that customer is linked to them.
    """
    supporter = None
    if customer_id:
        supporter = db.session.scalar(
            select(Supporter).where(Supporter.stripe_customer_id == customer_id)
        )
    if supporter is None and email:
        supporter = db.session.scalar(
            select(Supporter).where(Supporter.email == normalise_email(email))
        )
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


def _insert_supporter(email: str, customer_id: str | None, name: str | None) -> Supporter:
    """Insert, or take the row a concurrent transaction inserted first (unique email)."""
    try:
        with db.session.begin_nested():
            supporter = Supporter(
                email=email, stripe_customer_id=customer_id, name=name[:200] if name else None
            )
            db.session.add(supporter)
    except IntegrityError:
        existing = db.session.scalar(
            select(Supporter).where(Supporter.email == normalise_email(email))
        )
        if existing is None:
            raise
        return existing
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
