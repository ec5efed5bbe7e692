"""While a reader waits on Stripe, the wait holds nothing that others need.

Under threaded workers (README, Deploying) a Continue waits hundreds of milliseconds for
Stripe to open a Checkout Session, and a reader back from Checkout for Stripe to say how
it ended. A pooled database connection held through that wait (and on PostgreSQL, an open
transaction) would leave the other threads of the worker queueing for the pool.
"""

from flask import Flask
from flask.testing import FlaskClient

from membership.extensions import db
from membership.models import CheckoutAttempt
from tests.conftest import post_checkout
from tests.fake_stripe import FakeStripe
from tests.reminders.conftest import make_reminder


def connections_in_use_while_stripe_answers(app: Flask, stripe: FakeStripe) -> list[int]:
    """Fill, each time the fake Stripe is about to answer, the app's connections in use."""
    with app.app_context():
        pool = db.engine.pool
    seen: list[int] = []
    stripe.while_answering = lambda: seen.append(pool.checkedout())  # type: ignore[attr-defined]
    return seen


def test_continue_holds_no_connection_while_stripe_opens_the_session(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    with app.app_context():
        token = make_reminder("reader@example.org", frequency="once", amount="25").token
    seen = connections_in_use_while_stripe_answers(app, stripe)

    # A reminder's token was the one thing looked up before Stripe was called.
    response = post_checkout(client, frequency="once", currency="USD", amount="25", reminder=token)

    assert response.status_code == 303
    assert seen and set(seen) == {0}
    with app.app_context():
        assert db.session.query(CheckoutAttempt.reminder_id).scalar() is not None


def test_thank_you_holds_no_connection_while_stripe_says_how_it_ended(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    post_checkout(client, frequency="once", currency="USD", amount="25")
    [session_id] = stripe.sessions
    stripe.complete_session(session_id)
    seen = connections_in_use_while_stripe_answers(app, stripe)

    page = client.get(f"/support/thank-you?session_id={session_id}")

    assert page.status_code == 200
    assert seen == [0]
