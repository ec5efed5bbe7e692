"""Finding the supporter behind a payment: by Stripe customer first, then by email.

A supporter's email is their Stripe customer's current one: each event that states it
(a checkout, an invoice, ``customer.updated``) carries its ``created`` time, and the
latest statement wins whatever order they arrive in (``email_as_of``). When the new
address is already another supporter's (a guest gift made from it), the two are one
person: that supporter's gifts move to the customer's, and the other row goes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from membership import clock
from membership.ledger.erased import is_erased
from membership.models import (
    CheckoutAttempt,
    Payment,
    PaymentFailure,
    PendingCustomerEmail,
    RecurringSupport,
    SupersededEmail,
    Supporter,
    normalise_email,
)
from membership.sql.rows import Row, fetch_one, find_by_either, insert_unless_exists, select_all
from membership.sql.statements import Statement

MAX_EMAIL_LENGTH = 254
SUPPORTERS = Supporter.__table__
# Tables whose rows may name a customer before we know who the customer is.
_CUSTOMER_RECORDS = (Payment.__table__, RecurringSupport.__table__, PaymentFailure.__table__)

# One query: the supporter with this customer id, else the one with this email.
_FIND_SUPPORTER = find_by_either(
    SUPPORTERS, (SUPPORTERS.c.stripe_customer_id, "customer_id"), (SUPPORTERS.c.email, "email")
)
_HAS_UNLINKED_RECORDS = Statement(
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
    Statement(
        update(table)
        .where(
            table.c.stripe_customer_id == bindparam("customer_id"), table.c.supporter_id.is_(None)
        )
        .values(supporter_id=bindparam("supporter_id"))
    )
    for table in _CUSTOMER_RECORDS
]
_FIND_BY_CUSTOMER = Statement(
    select_all(SUPPORTERS).where(SUPPORTERS.c.stripe_customer_id == bindparam("customer_id"))
)
_FIND_BY_EMAIL = Statement(select_all(SUPPORTERS).where(SUPPORTERS.c.email == bindparam("email")))
# What a supporter's rows are moved by when two supporters turn out to be one person.
_MOVE_TO_SUPPORTER = [
    Statement(
        update(table)
        .where(table.c.supporter_id == bindparam("gone_id"))
        .values(supporter_id=bindparam("kept_id"))
    )
    for table in (*_CUSTOMER_RECORDS, CheckoutAttempt.__table__, SupersededEmail.__table__)
]
SUPERSEDED = SupersededEmail.__table__
_FIND_SUPERSEDED = Statement(
    select(SUPERSEDED.c.supporter_id).where(
        SUPERSEDED.c.email == bindparam("email"), SUPERSEDED.c.superseded_at > bindparam("as_of")
    )
)
PENDING = PendingCustomerEmail.__table__
_FIND_PENDING = Statement(
    select_all(PENDING).where(PENDING.c.stripe_customer_id == bindparam("customer_id"))
)
_DELETE_PENDING = Statement(
    delete(PENDING).where(PENDING.c.stripe_customer_id == bindparam("customer_id"))
)
_DELETE_SUPERSEDED = Statement(delete(SUPERSEDED).where(SUPERSEDED.c.email == bindparam("email")))
_DELETE_SUPPORTER = Statement(delete(SUPPORTERS).where(SUPPORTERS.c.id == bindparam("gone_id")))


def find_or_create_supporter(
    *,
    customer_id: str | None,
    email: str | None,
    as_of: datetime | None = None,
) -> int | None:
    """The id of the supporter for this customer or email, created when first seen with an
    email. A customer id learnt later is attached to the supporter found by email, and
    anything already recorded under that customer is linked to them. ``as_of`` is when
    Stripe stated this email: a later statement than the one held changes the customer's
    supporter's email (``restate_email``)."""
    email = _storable(email)
    if not customer_id and not email:
        return None
    supporter = fetch_one(_FIND_SUPPORTER, SUPPORTERS, customer_id=customer_id, email=email)
    # Not a supporter's customer (yet): perhaps one erased at their request, whose email
    # must not come back (a late event). Checked only off the renewals' path.
    new_customer = supporter is None or supporter["stripe_customer_id"] != customer_id
    if customer_id and new_customer and is_erased(customer_id):
        return None
    if supporter is None and email and not customer_id and as_of is not None:
        # A guest gift from an address its giver's customer has since changed away from.
        former = _FIND_SUPERSEDED.scalar(email=email, as_of=as_of)
        if former is not None:
            return int(former)
    if supporter is None:
        if not email:
            return None
        supporter = insert_unless_exists(
            SUPPORTERS,
            {
                "email": email,
                "stripe_customer_id": customer_id,
                "created_at": clock.now(),
                "email_as_of": as_of,
            },
        )
        if supporter is not None:
            if customer_id:
                link_customer_records(customer_id, supporter["id"])
                if _apply_pending_email(supporter, customer_id):
                    supporter.save()
            return int(supporter["id"])
        # A concurrent transaction inserted this email or customer first: take its row.
        supporter = fetch_one(_FIND_SUPPORTER, SUPPORTERS, customer_id=customer_id, email=email)
        if supporter is None:
            raise IntegrityError("supporter insert conflicted but no row found", None, Exception())
    learnt_customer = bool(customer_id) and supporter["stripe_customer_id"] is None
    if learnt_customer:
        supporter["stripe_customer_id"] = customer_id
    if email and supporter["stripe_customer_id"] == customer_id:
        _restate(supporter, email, as_of)
    if learnt_customer and customer_id:
        _apply_pending_email(supporter, customer_id)
    supporter.save()
    if learnt_customer and customer_id:
        link_customer_records(customer_id, supporter["id"])
    return int(supporter["id"])


def restate_email(customer_id: str, email: str | None, as_of: datetime) -> None:
    """Stripe says what a customer's email is now (``customer.updated``): their supporter
    follows it. A customer who is not a supporter (yet) is not made one by it: the address
    waits for their gift (``pending_customer_emails``), so the outcome is the same whether
    the change or the gift arrives first."""
    email = _storable(email)
    if not email:
        return
    supporter = fetch_one(_FIND_BY_CUSTOMER, SUPPORTERS, customer_id=customer_id)
    if supporter is not None:
        _restate(supporter, email, as_of)
        supporter.save()
    elif not is_erased(customer_id):
        _keep_pending_email(customer_id, email, as_of)


def _keep_pending_email(customer_id: str, email: str, as_of: datetime) -> None:
    """Hold the statement until the customer's gift arrives (the latest one, if several)."""
    values = {"stripe_customer_id": customer_id, "email": email, "as_of": as_of}
    if insert_unless_exists(PENDING, values) is not None:
        return
    pending = fetch_one(_FIND_PENDING, PENDING, customer_id=customer_id)
    if pending is not None and (as_of, email) > (pending["as_of"], pending["email"]):
        pending["email"], pending["as_of"] = email, as_of
        pending.save()


def _apply_pending_email(supporter: Row, customer_id: str) -> bool:
    """A customer now has a supporter: an email change that arrived first applies now.
    True when there was one."""
    pending = fetch_one(_FIND_PENDING, PENDING, customer_id=customer_id)
    if pending is None:
        return False
    _DELETE_PENDING.run(customer_id=customer_id)
    _restate(supporter, pending["email"], pending["as_of"])
    return True


def forget_pending_emails(older_than: datetime) -> int:
    """Delete email changes of customers who never gave, stated before ``older_than``."""
    return Statement(delete(PENDING).where(PENDING.c.as_of < bindparam("cutoff"))).run(
        cutoff=older_than
    )


def _storable(email: str | None) -> str | None:
    if not email:
        return None
    email = normalise_email(email)
    return email if len(email) <= MAX_EMAIL_LENGTH else None  # the customer may still find them


def _restate(supporter: Row, email: str, as_of: datetime | None) -> None:
    """Take ``email`` if Stripe stated it later than the one held (the same second: the
    greater address, so that the outcome never depends on order). A supporter already
    holding that address is the same person: their rows join this one. An earlier
    statement names an address the customer has since left (``_absorb_former``)."""
    known_as_of = supporter["email_as_of"]
    if as_of is None or email == supporter["email"]:
        if as_of is not None and (known_as_of is None or as_of > known_as_of):
            supporter["email_as_of"] = as_of
        return
    if known_as_of is not None and (as_of, email) < (known_as_of, supporter["email"]):
        _absorb_former(supporter, email, left_by=known_as_of)
        return
    holder = fetch_one(_FIND_BY_EMAIL, SUPPORTERS, email=email)
    if holder is not None:
        _merge(kept=supporter, gone=holder)
    _DELETE_SUPERSEDED.run(email=email)
    _absorb_former(supporter, supporter["email"], left_by=as_of)
    supporter["email"] = email
    supporter["email_as_of"] = as_of


def _absorb_former(supporter: Row, email: str, *, left_by: datetime) -> None:
    """``email`` was this customer's address until ``left_by`` at the latest: guest gifts
    made from it (a supporter with no customer holding it) are theirs, and so are those
    that arrive later, made before then (``superseded_emails``)."""
    holder = fetch_one(_FIND_BY_EMAIL, SUPPORTERS, email=email)
    if holder is not None and holder["id"] != supporter["id"]:
        if holder["stripe_customer_id"] is not None:
            return  # another customer's address now: theirs
        _merge(kept=supporter, gone=holder)
    insert_unless_exists(
        SUPERSEDED, {"email": email, "supporter_id": supporter["id"], "superseded_at": left_by}
    )


def _merge(*, kept: Row, gone: Row) -> None:
    """Move everything recorded under ``gone`` to ``kept`` and delete ``gone`` (its email is
    about to be ``kept``'s). ``kept`` keeps the earlier first sight, and ``gone``'s customer
    when it has none; ``gone``'s rows still name their own customer."""
    for statement in _MOVE_TO_SUPPORTER:
        statement.run(gone_id=gone["id"], kept_id=kept["id"])
    _DELETE_SUPPORTER.run(gone_id=gone["id"])
    if gone["created_at"] < kept["created_at"]:
        kept["created_at"] = gone["created_at"]
    if kept["stripe_customer_id"] is None and gone["stripe_customer_id"]:
        kept["stripe_customer_id"] = gone["stripe_customer_id"]


def link_customer_records(customer_id: str, supporter_id: int) -> None:
    """Attach payments, recurring support and failures recorded before the supporter was
    known (one cheap query first: usually there are none)."""
    if not _HAS_UNLINKED_RECORDS.scalar(customer_id=customer_id):
        return
    for statement in _LINK_RECORDS:
        statement.run(customer_id=customer_id, supporter_id=supporter_id)
