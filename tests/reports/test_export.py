"""``flask export payments|supporters``: the ledger as CSV, built here from signed webhooks.

Every payment in these tests reaches the ledger the way it does in production: as a
Stripe event, signed and posted to ``/stripe/webhook``.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, text

from membership.extensions import db
from membership.models import Payment, Supporter
from membership.reports import export as csv_export
from tests.conftest import ON_POSTGRES, post_checkout
from tests.fake_stripe import FakeStripe
from tests.stripe_events import (
    charge,
    checkout_session,
    deliver,
    event,
    invoice,
    invoice_payment,
    subscription,
)

PAYMENT_HEADER = (
    "payment_id,invoice_id,subscription_id,email,amount_minor,amount_refunded_minor,"
    "amount_disputed_minor,amount_net_minor,currency,status,frequency,paid_at,source,"
    "utm_source,utm_medium,utm_campaign,utm_content\r\n"
)
SUPPORTER_HEADER = (
    "email,first_gift_at,lifetime_minor,gross_minor,currency,recurring_status,frequency\r\n"
)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def at(moment: str) -> int:
    """A Stripe timestamp (seconds) for an ISO 8601 time."""
    return int(datetime.fromisoformat(moment).timestamp())


def send(client: FlaskClient, event_type: str, obj: dict[str, Any], moment: str) -> None:
    response = deliver(client, event(event_type, obj, created=at(moment)))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json is not None and response.json["outcome"] == "processed"


def give_once(
    client: FlaskClient,
    *,
    payment_intent: str,
    amount: int,
    moment: str,
    currency: str = "usd",
    email: str = "reader@example.org",
    **session: Any,
) -> None:
    """A one-time gift through Checkout: paid when the session completes."""
    obj = checkout_session(
        mode="payment",
        amount=amount,
        currency=currency,
        email=email,
        payment_intent=payment_intent,
        **session,
    )
    send(client, "checkout.session.completed", obj, moment)


def pay_invoice(
    client: FlaskClient,
    *,
    invoice_id: str,
    payment_intent: str,
    subscription_id: str,
    customer: str,
    amount: int,
    moment: str,
    currency: str = "usd",
    email: str = "monthly@example.org",
) -> None:
    """One invoice of a recurring gift paid, then Stripe's word on which payment intent paid it."""
    obj = invoice(
        invoice_id=invoice_id,
        subscription=subscription_id,
        customer=customer,
        amount=amount,
        currency=currency,
        email=email,
        paid_at=at(moment),
    )
    send(client, "invoice.paid", obj, moment)
    paid_by = invoice_payment(
        invoice_id=invoice_id, payment_intent=payment_intent, amount=amount, currency=currency
    )
    send(client, "invoice_payment.paid", paid_by, moment)


def export(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["export", *args])


def rows_of(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout_bytes.decode(), newline="")))


def payments(app: Flask, *args: str) -> list[dict[str, str]]:
    return rows_of(export(app, "payments", *args))


def supporters(app: Flask) -> list[dict[str, str]]:
    return rows_of(export(app, "supporters"))


# -- Payments --------------------------------------------------------------------------


def test_empty_ledger_exports_only_the_headers(app: Flask) -> None:
    assert export(app, "payments").stdout_bytes.decode() == PAYMENT_HEADER
    assert export(app, "supporters").stdout_bytes.decode() == SUPPORTER_HEADER


def test_one_time_gift_is_one_row_with_exact_values(app: Flask, client: FlaskClient) -> None:
    give_once(
        client,
        payment_intent="pi_once_1",
        amount=2500,
        currency="eur",
        email=" Reader@Example.org ",
        moment="2026-11-03T14:05:09+00:00",
    )

    result = export(app, "payments")

    assert result.stdout_bytes.decode().startswith(PAYMENT_HEADER)
    assert rows_of(result) == [
        {
            "payment_id": "pi_once_1",
            "invoice_id": "",
            "subscription_id": "",
            "email": "reader@example.org",
            "amount_minor": "2500",
            "amount_refunded_minor": "0",
            "amount_disputed_minor": "0",
            "amount_net_minor": "2500",
            "currency": "EUR",
            "status": "succeeded",
            "frequency": "once",
            "paid_at": "2026-11-03T14:05:09Z",
            "source": "",
            "utm_source": "",
            "utm_medium": "",
            "utm_campaign": "",
            "utm_content": "",
        }
    ]


def test_every_line_ends_with_crlf(app: Flask, client: FlaskClient) -> None:
    give_once(client, payment_intent="pi_crlf", amount=500, moment="2026-11-03T10:00:00+00:00")

    output = export(app, "payments").stdout_bytes

    assert output.count(b"\r\n") == 2
    assert output.endswith(b"\r\n")
    assert b"\n" not in output.replace(b"\r\n", b"")


def test_renewal_is_named_by_the_payment_intent_that_paid_its_invoice(
    app: Flask, client: FlaskClient
) -> None:
    customer, sub = "cus_monthly", "sub_monthly"
    session = checkout_session(
        mode="subscription",
        amount=800,
        email="monthly@example.org",
        customer=customer,
        subscription=sub,
    )
    send(client, "checkout.session.completed", session, "2026-10-05T09:00:00+00:00")
    started = subscription(
        subscription_id=sub,
        customer=customer,
        amount=800,
        interval="month",
        start_date=at("2026-10-05T09:00:00+00:00"),
    )
    send(client, "customer.subscription.created", started, "2026-10-05T09:00:00+00:00")
    pay_invoice(
        client,
        invoice_id="in_first",
        payment_intent="pi_first",
        subscription_id=sub,
        customer=customer,
        amount=800,
        moment="2026-10-05T09:00:01+00:00",
    )
    # The renewal's invoice is paid before Stripe says which payment intent paid it.
    pay_invoice(
        client,
        invoice_id="in_renewal",
        payment_intent="pi_renewal",
        subscription_id=sub,
        customer=customer,
        amount=800,
        moment="2026-11-05T09:00:00+00:00",
    )

    rows = payments(app)

    assert [(row["payment_id"], row["invoice_id"]) for row in rows] == [
        ("pi_first", "in_first"),
        ("pi_renewal", "in_renewal"),
    ]
    assert rows[1] == {
        "payment_id": "pi_renewal",
        "invoice_id": "in_renewal",
        "subscription_id": "sub_monthly",
        "email": "monthly@example.org",
        "amount_minor": "800",
        "amount_refunded_minor": "0",
        "amount_disputed_minor": "0",
        "amount_net_minor": "800",
        "currency": "USD",
        "status": "succeeded",
        "frequency": "monthly",
        "paid_at": "2026-11-05T09:00:00Z",
        "source": "",
        "utm_source": "",
        "utm_medium": "",
        "utm_campaign": "",
        "utm_content": "",
    }


def test_invoice_without_a_known_payment_intent_is_named_by_the_invoice(
    app: Flask, client: FlaskClient
) -> None:
    obj = invoice(
        invoice_id="in_alone",
        subscription="sub_alone",
        customer="cus_alone",
        amount=1200,
        paid_at=at("2026-11-10T08:00:00+00:00"),
    )
    send(client, "invoice.paid", obj, "2026-11-10T08:00:00+00:00")

    [row] = payments(app)

    assert (row["payment_id"], row["invoice_id"], row["subscription_id"]) == (
        "in_alone",
        "in_alone",
        "sub_alone",
    )


def test_refund_of_a_renewal_reaches_it_through_its_payment_intent(
    app: Flask, client: FlaskClient
) -> None:
    refund = charge(payment_intent="pi_refunded_renewal", amount=800, amount_refunded=800)
    send(client, "charge.refunded", refund, "2026-11-06T00:00:00+00:00")
    pay_invoice(
        client,
        invoice_id="in_refunded",
        payment_intent="pi_refunded_renewal",
        subscription_id="sub_refunded",
        customer="cus_refunded",
        amount=800,
        moment="2026-11-05T09:00:00+00:00",
    )

    [row] = payments(app)

    assert (row["amount_refunded_minor"], row["amount_net_minor"], row["status"]) == (
        "800",
        "0",
        "refunded",
    )


def test_partial_refund_shows_refunded_and_net_amounts(app: Flask, client: FlaskClient) -> None:
    give_once(client, payment_intent="pi_part", amount=5000, moment="2026-11-03T10:00:00+00:00")
    refund = charge(payment_intent="pi_part", amount=5000, amount_refunded=1500)
    send(client, "charge.refunded", refund, "2026-11-04T10:00:00+00:00")

    [row] = payments(app)

    assert {key: row[key] for key in row if key.startswith("amount") or key == "status"} == {
        "amount_minor": "5000",
        "amount_refunded_minor": "1500",
        "amount_disputed_minor": "0",
        "amount_net_minor": "3500",
        "status": "partially_refunded",
    }


def test_since_includes_its_day_and_until_excludes_its_day_in_utc(
    app: Flask, client: FlaskClient
) -> None:
    moments = {
        "pi_before": "2026-10-31T23:59:59+00:00",
        "pi_last": "2026-11-29T23:59:59+00:00",
        "pi_first": "2026-11-01T00:00:00+00:00",
        "pi_after": "2026-11-30T00:00:00+00:00",
        # 20:00 on 29 November in New York is already 30 November in UTC.
        "pi_after_in_utc": "2026-11-29T20:00:00-05:00",
    }
    for payment_intent, moment in moments.items():
        give_once(client, payment_intent=payment_intent, amount=1000, moment=moment)

    rows = payments(app, "--since", "2026-11-01", "--until", "2026-11-30")

    assert [(row["payment_id"], row["paid_at"]) for row in rows] == [
        ("pi_first", "2026-11-01T00:00:00Z"),
        ("pi_last", "2026-11-29T23:59:59Z"),
    ]
    assert [row["payment_id"] for row in payments(app, "--until", "2026-11-01")] == ["pi_before"]
    assert [row["payment_id"] for row in payments(app, "--since", "2026-11-30")] == [
        "pi_after",
        "pi_after_in_utc",
    ]


def test_payments_are_ordered_by_time_paid(app: Flask, client: FlaskClient) -> None:
    for payment_intent, moment in [
        ("pi_c", "2026-11-03T00:00:00+00:00"),
        ("pi_a", "2026-11-01T00:00:00+00:00"),
        ("pi_b", "2026-11-02T00:00:00+00:00"),
    ]:
        give_once(client, payment_intent=payment_intent, amount=1000, moment=moment)

    assert [row["payment_id"] for row in payments(app)] == ["pi_a", "pi_b", "pi_c"]


def test_text_a_spreadsheet_would_run_as_a_formula_is_quoted(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    attribution = {
        "source": '=HYPERLINK("https://evil.example","Open")',
        # A UTM value is kept only as a campaign slug (membership.attribution): of the
        # formula characters, a slug may start with "-" alone; the others are dropped.
        "utm_source": "+1+1",
        "utm_medium": "-2-3",
        "utm_campaign": "@SUM(A1:A9)",
        "utm_content": "plain",
    }
    post_checkout(client, frequency="once", currency="USD", amount="10", **attribution)
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    attempt_id = call.params["client_reference_id"]
    give_once(
        client,
        payment_intent="pi_formula",
        amount=1000,
        email="=2+5@example.org",
        moment="2026-11-03T10:00:00+00:00",
        attempt_id=attempt_id,
        frequency="once",
    )

    [payment] = payments(app)
    [supporter] = supporters(app)

    assert payment["email"] == supporter["email"] == "'=2+5@example.org"
    assert {key: payment[key] for key in attribution} == {
        "source": '\'=HYPERLINK("https://evil.example","Open")',
        "utm_source": "",
        "utm_medium": "'-2-3",
        "utm_campaign": "",
        "utm_content": "plain",
    }
    assert payment["amount_minor"] == "1000"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--since", "2026-13-01"),
        ("--since", "30/11/2026"),
        ("--until", "2026-11-30T00:00"),
        ("--until", "20261130"),
        ("--until", "tomorrow"),
    ],
    ids=["no-such-month", "day-first", "with-a-time", "no-dashes", "a-word"],
)
def test_a_day_not_written_yyyy_mm_dd_is_refused(app: Flask, option: str, value: str) -> None:
    result = export(app, "payments", option, value)

    assert result.exit_code != 0
    assert f"Invalid value for '{option}'" in result.output
    assert f"'{value}' is not a day: write it YYYY-MM-DD (a UTC day)" in result.output
    assert result.stdout_bytes == b""


def test_a_period_that_ends_before_it_starts_is_refused(app: Flask) -> None:
    result = export(app, "payments", "--since", "2026-11-30", "--until", "2026-11-30")

    assert result.exit_code != 0
    assert "the period is empty: 2026-11-30 must be before 2026-11-30" in result.output
    assert "payment_id" not in result.output


# -- Supporters ------------------------------------------------------------------------


def test_supporter_totals_are_net_of_refunds_with_gross_beside(
    app: Flask, client: FlaskClient
) -> None:
    give_once(client, payment_intent="pi_1", amount=5000, moment="2026-11-03T10:00:00+00:00")
    give_once(client, payment_intent="pi_2", amount=2000, moment="2026-11-01T08:30:00+00:00")
    refund = charge(payment_intent="pi_1", amount=5000, amount_refunded=1500)
    send(client, "charge.refunded", refund, "2026-11-04T10:00:00+00:00")

    assert supporters(app) == [
        {
            "email": "reader@example.org",
            "first_gift_at": "2026-11-01T08:30:00Z",
            "lifetime_minor": "5500",
            "gross_minor": "7000",
            "currency": "USD",
            "recurring_status": "",
            "frequency": "",
        }
    ]


def test_supporter_who_gave_in_two_currencies_has_a_row_for_each(
    app: Flask, client: FlaskClient
) -> None:
    give_once(
        client,
        payment_intent="pi_usd",
        amount=1000,
        currency="usd",
        moment="2026-11-02T00:00:00+00:00",
    )
    give_once(
        client,
        payment_intent="pi_eur",
        amount=3000,
        currency="eur",
        email="READER@example.org",
        moment="2026-11-01T00:00:00+00:00",
    )
    give_once(
        client,
        payment_intent="pi_other",
        amount=700,
        email="another@example.org",
        moment="2026-11-05T00:00:00+00:00",
    )

    rows = supporters(app)

    assert [
        (row["email"], row["currency"], row["lifetime_minor"], row["first_gift_at"]) for row in rows
    ] == [
        ("another@example.org", "USD", "700", "2026-11-05T00:00:00Z"),
        ("reader@example.org", "EUR", "3000", "2026-11-01T00:00:00Z"),
        ("reader@example.org", "USD", "1000", "2026-11-01T00:00:00Z"),
    ]


def test_supporter_shows_their_most_recently_started_recurring_support(
    app: Flask, client: FlaskClient
) -> None:
    customer = "cus_two_subs"
    for sub, interval, start, event_type, status in [
        ("sub_new", "year", "2026-06-01T00:00:00+00:00", "created", "active"),
        ("sub_old", "month", "2026-01-01T00:00:00+00:00", "deleted", "canceled"),
    ]:
        pay_invoice(
            client,
            invoice_id=f"in_{sub}",
            payment_intent=f"pi_{sub}",
            subscription_id=sub,
            customer=customer,
            amount=5000,
            moment=start,
        )
        state = subscription(
            subscription_id=sub,
            customer=customer,
            amount=5000,
            interval=interval,
            status=status,
            start_date=at(start),
        )
        send(client, f"customer.subscription.{event_type}", state, start)

    [row] = supporters(app)

    assert (row["recurring_status"], row["frequency"], row["lifetime_minor"]) == (
        "active",
        "annual",
        "10000",
    )


def test_supporter_with_no_payment_yet_has_one_row_with_zero_totals(
    app: Flask, client: FlaskClient
) -> None:
    failed = invoice(
        invoice_id="in_failed",
        subscription="sub_failing",
        customer="cus_failing",
        amount=800,
        email="failing@example.org",
        status="open",
    )
    send(client, "invoice.payment_failed", failed, "2026-11-05T09:00:00+00:00")

    assert supporters(app) == [
        {
            "email": "failing@example.org",
            "first_gift_at": "",
            "lifetime_minor": "0",
            "gross_minor": "0",
            "currency": "",
            "recurring_status": "past_due",
            "frequency": "",
        }
    ]


# -- Streaming -------------------------------------------------------------------------


def test_rows_read_in_small_batches_are_the_same_as_in_one(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number, (email, currency) in enumerate(
        [("a@example.org", "usd"), ("b@example.org", "eur"), ("a@example.org", "eur")] * 3
    ):
        give_once(
            client,
            payment_intent=f"pi_batch_{number}",
            amount=100 + number,
            currency=currency,
            email=email,
            moment=f"2026-11-0{number + 1}T12:00:00+00:00",
        )
    whole = (export(app, "payments").stdout_bytes, export(app, "supporters").stdout_bytes)

    monkeypatch.setattr(csv_export, "BATCH_SIZE", 2)

    assert (export(app, "payments").stdout_bytes, export(app, "supporters").stdout_bytes) == whole
    assert len(supporters(app)) == 3
    assert len(payments(app)) == 9


def test_command_line_exports_are_in_the_audit_log(app: Flask) -> None:
    """Every copy of supporters' data is recorded, taken from the server as from the pages."""
    from sqlalchemy import select

    from membership.extensions import db
    from membership.staff import audit
    from membership.staff.models import AuditEntry

    assert export(app, "payments", "--since", "2026-01-01").exit_code == 0
    assert export(app, "supporters").exit_code == 0
    with app.app_context():
        entries = db.session.execute(
            select(AuditEntry.action, AuditEntry.target, AuditEntry.detail).order_by(AuditEntry.id)
        ).all()
    assert [tuple(e) for e in entries] == [
        (audit.EXPORT_PAYMENTS, "2026-01-01..", "flask export"),
        (audit.EXPORT_SUPPORTERS, None, "flask export"),
    ]


# Text no webhook writes, stored straight into the ledger: a file must stay a file whatever
# the rows hold (quotes, line breaks, formulas, empty text, NULL, other alphabets).
AWKWARD_TEXT = [
    "plain",
    "",
    None,
    "comma, inside",
    'a "quoted" word',
    '"',
    "line\nbreak",
    "carriage\rreturn",
    "both\r\nends\n",
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\tafter a tab",
    "\rafter a carriage return",
    "'already quoted",
    "café, ünïcode",
    " spaced ",
    "\\.",
    "\\N",
]


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's COPY writes the CSV there alone")
def test_postgresql_copy_writes_the_bytes_the_csv_writer_writes(app_ctx: None) -> None:
    for n, awkward in enumerate(AWKWARD_TEXT):
        supporter_id = db.session.execute(
            insert(Supporter.__table__)
            .values(email=f"{awkward or ''}#{n}@example.org", created_at=NOW)
            .returning(Supporter.__table__.c.id)
        ).scalar_one()
        db.session.execute(
            insert(Payment.__table__).values(
                stripe_payment_intent_id=f"pi_awkward_{n}" if n % 3 else None,
                stripe_invoice_id=f"in_{awkward}_{n}",
                stripe_subscription_id=awkward,
                supporter_id=supporter_id if n % 4 else None,
                frequency="once",
                amount_minor=100 * n,
                amount_refunded_minor=n,
                amount_disputed_minor=0,
                currency="EUR",
                status="succeeded",
                paid_at=NOW - timedelta(seconds=n % 5),
                created_at=NOW,
                source=awkward,
                utm_source=awkward,
                utm_medium=awkward,
                utm_campaign=awkward,
                utm_content=awkward,
            )
        )
    db.session.commit()

    copied = "".join(csv_export._copied_lines(csv_export._payments_query(None, None, True)))
    written = "".join(csv_export._written_lines(csv_export._payments_query(None, None)))

    assert copied == written
    query = csv_export._supporters_query
    copied_supporters = "".join(csv_export._copied_lines(query(as_csv=True)))
    written_supporters = "".join(csv_export.csv_lines((), db.session.execute(query())))
    assert copied_supporters == written_supporters.removeprefix("\r\n")  # no header
    assert copied_supporters.count("\n") > len(AWKWARD_TEXT)
    rows = list(csv.reader(io.StringIO(copied, newline="")))
    assert len(rows) == len(AWKWARD_TEXT)
    assert sorted(row[12] for row in rows) == sorted(
        "'" + text if text and text[0] in "=+-@\t\r" else text or "" for text in AWKWARD_TEXT
    )


@pytest.mark.skipif(not ON_POSTGRES, reason="work_mem is PostgreSQL's")
def test_an_export_gives_postgresql_memory_for_its_own_transaction(app_ctx: None) -> None:
    def work_mem() -> str:
        return str(db.session.execute(text("SHOW work_mem")).scalar_one())

    default = work_mem()
    db.session.rollback()

    assert list(csv_export.payment_rows()) == [PAYMENT_HEADER]
    assert work_mem() == csv_export.EXPORT_WORK_MEM != default
    db.session.rollback()
    assert work_mem() == default
