"""Finding the supporter behind a payment: by Stripe customer first, then by email."""

from __future__ import annotations

from sqlalchemy import bindparam, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from membership import clock
from membership.ledger.records import (
    Prepared,
    fetch_one,
    find_by_either,
    insert_unless_exists,
)
from membership.models import Payment, PaymentFailure, RecurringSupport, Supporter, normalise_email

MAX_EMAIL_LENGTH = 254
SUPPORTERS = Supporter.__table__
# Tables whose rows may name a customer before we know who the customer is.
_CUSTOMER_RECORDS = (Payment.__table__, RecurringSupport.__table__, PaymentFailure.__table__)

# One query: the supporter with this customer id, else the one with this email.
_FIND_SUPPORTER = find_by_either(
    SUPPORTERS, (SUPPORTERS.c.stripe_customer_id, "customer_id"), (SUPPORTERS.c.email, "email")
)
_HAS_UNLINKED_RECORDS = Prepared(
    select(
        or_(
            *(
                exists().where(
                    table.c.stripe_customer_id == bindparam("customer_id"),
                    table.c.supporter_id.is_(None),
                )
                for table in _CUSTOMER_RECORDS
            )
        ).label("unlinked")
    )
)
_LINK_RECORDS = [
    Prepared(
        update(table)
        .where(
            table.c.stripe_customer_id == bindparam("customer_id"), table.c.supporter_id.is_(None)
        )
        .values(supporter_id=bindparam("supporter_id"))
    )
    for table in _CUSTOMER_RECORDS
]


def find_or_create_supporter(
    *, customer_id: str | None, email: str | None, name: str | None = None
) -> int | None:
    """The id of the supporter for this customer or email, created when first seen with an
    email. A customer id learnt later is attached to the supporter found by email, and
    anything already recorded under that customer is linked to them."""
    if email:
        email = normalise_email(email)
        if len(email) > MAX_EMAIL_LENGTH:
            email = None  # not storable; the customer id may still find them
    if not customer_id and not email:
        return None
    supporter = fetch_one(_FIND_SUPPORTER, SUPPORTERS, customer_id=customer_id, email=email)
    if supporter is None:
        if not email:
            return None
        supporter = insert_unless_exists(
            SUPPORTERS,
            {
                "email": email,
                "stripe_customer_id": customer_id,
                "name": name[:200] if name else None,
                "created_at": clock.now(),
            },
        )
        if supporter is not None:
            if customer_id:
                link_customer_records(customer_id, supporter["id"])
            return int(supporter["id"])
        # A concurrent transaction inserted this email or customer first: take its row.
        supporter = fetch_one(_FIND_SUPPORTER, SUPPORTERS, customer_id=customer_id, email=email)
        if supporter is None:
            raise IntegrityError("supporter insert conflicted but no row found", None, Exception())
    learnt_customer = bool(customer_id) and supporter["stripe_customer_id"] is None
    if learnt_customer:
        supporter["stripe_customer_id"] = customer_id
    if name and not supporter["name"]:
        supporter["name"] = name[:200]
    supporter.save()
    if learnt_customer and customer_id:
        link_customer_records(customer_id, supporter["id"])
    return int(supporter["id"])


def link_customer_records(customer_id: str, supporter_id: int) -> None:
    """Attach payments, recurring support and failures recorded before the supporter was
    known (one cheap query first: usually there are none)."""
    if not _HAS_UNLINKED_RECORDS.scalar(customer_id=customer_id):
        return
    for statement in _LINK_RECORDS:
        statement.run(customer_id=customer_id, supporter_id=supporter_id)
