"""Recurring prices' intervals, and the frequency of each payment that charged one.

The price Stripe charges is the truth about a recurring payment's frequency: metadata
written at Checkout says what the gift was when it began, and Stripe never updates it
when the supporter switches from monthly to annual. A renewal's invoice (in the current
API) names its price but not the interval, and may arrive before any subscription event
shows that price: the payment is recorded with what is known then (``payments``), and
derived again here when the price's interval is learnt, so the outcome does not depend
on which event came first.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from membership.ledger import payments
from membership.models import Payment, StripePrice
from membership.sql.rows import insert_unless_exists, select_all
from membership.sql.statements import Statement
from membership.vocabulary import Frequency

PRICES = StripePrice.__table__
PAYMENTS = Payment.__table__

_FREQUENCY_OF = Statement(
    select(PRICES.c.frequency).where(PRICES.c.stripe_price_id == bindparam("price_id"))
)
_PAYMENTS_TO_DERIVE = Statement(
    select_all(PAYMENTS)
    .where(PAYMENTS.c.stripe_price_id == bindparam("price_id"))
    .where((PAYMENTS.c.frequency != bindparam("learnt")) | PAYMENTS.c.frequency.is_(None))
)


# Prices this process has read the interval of. Stripe never changes a price's interval, so
# what was read once is true for good (even if the row that said so was rolled back since):
# a renewal's invoice then costs no query for it.
_FREQUENCIES: dict[str, str] = {}


def frequency_of(price_id: str | None) -> str | None:
    """The frequency of a price whose interval is known, else None."""
    if not price_id:
        return None
    known = _FREQUENCIES.get(price_id)
    if known is not None:
        return known
    value = _FREQUENCY_OF.scalar(price_id=price_id)
    if value is None:
        return None
    _FREQUENCIES[price_id] = str(value)
    return str(value)


def learn_price(price_id: str | None, interval: str | None) -> None:
    """Remember a recurring price's interval; the first time, the payments already recorded
    against it take its frequency (one by one, so the report rollups see each move)."""
    frequency = Frequency.from_interval(interval)
    if not price_id or frequency is None:
        return
    if insert_unless_exists(PRICES, {"stripe_price_id": price_id, "frequency": frequency}) is None:
        return  # known already: Stripe never changes a price's interval
    payments.give_frequency(_PAYMENTS_TO_DERIVE, frequency, price_id=price_id, learnt=frequency)
