"""The facts the ledger announces, for the parts of the app that react to money.

The ledger records what Stripe says and does not know who cares; each part that reacts
connects its receivers in its own ``init_app`` (reminders, the report rollups), and
``create_app`` lists those parts. Every signal is sent from inside the ledger's
transaction, so the rules for a receiver are the same for all of them:

- it runs in that transaction: what it writes commits or rolls back with the fact, and
  it writes through the ledger's connection (``membership.sql.statements``), not the
  ORM session;
- it never calls Stripe, sends mail or waits on anything slow: on SQLite the whole
  database waits for the ledger's writer while it runs;
- it must be idempotent in effect: Stripe redelivers, and an event may be replayed.

Modelled on indico's ``core/signals``: one signal per fact, each documented with its
sender and arguments.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

payment_recorded = _signals.signal(
    "payment-recorded",
    doc="""A payment reached a supporter: a new payment recorded with its supporter, or one
    recorded earlier linked to its supporter now.

    :sender: None
    :param supporter_id: the supporter's id (int)
    :param paid_at: when the money was paid (aware UTC datetime)
    """,
)

attempt_paid = _signals.signal(
    "attempt-paid",
    doc="""A checkout attempt (a press of Continue) was paid, the first time Stripe said so;
    one time or recurring alike.

    :sender: None
    :param attempt_id: the attempt's public id (str)
    :param reminder_id: the reminder whose link the reader came back through, or None
    """,
)

row_written = _signals.signal(
    "ledger-row-written",
    doc="""The ledger inserted or updated a row of a payment, recurring support, checkout
    attempt or payment failure through its own statements
    (``membership.sql.statements.Row.save``).

    :sender: the row's ``sqlalchemy.Table``
    :param before: the row's values before the write, or None for an insert (a mapping)
    :param after: the row's values after it (a mapping)
    """,
)

committing = _signals.signal(
    "ledger-committing",
    doc="""A ledger transaction is about to commit: the moment for writes gathered over the
    transaction and made once (the rollups' upserts, whose row locks are then held only
    until the commit).

    :sender: the transaction's ``sqlalchemy.Connection``
    """,
)
