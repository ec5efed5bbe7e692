"""Report figures against a hand-checked ledger built from signed Stripe webhooks.

September 2026 (UTC), USD:
  once   5000 paid 09-01 00:00:00, 2000 refunded         -> net 3000
  once   3000 paid 09-30 23:59:59, dispute needs_response -> net 0 (held)
  once   4000 paid 09-15, dispute lost                    -> net 0
  once   1000 paid 09-16, dispute won                     -> net 1000
  monthly 500 from 09-10 (fails 09-25: past due, still active)
  annual 12100 from 09-12
  outside: once 7000 on 08-31 23:59:59 (August), once 9000 on 10-01 00:00:00 (October),
           annual 5000 from 08-05, cancelled 09-20
EUR: once 2500 on 09-03; monthly 300 from 09-04. Never added to USD.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from membership.extensions import db
from membership.reminders.models import Reminder
from membership.reports.at_risk import at_risk_report
from membership.reports.cohorts import cohorts_report
from membership.reports.dashboard import dashboard
from membership.reports.periods import Period
from membership.reports.sources import sources_report
from membership.reports.supporters import supporter_detail, supporters_page
from tests import stripe_events as se


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def deliver_all(client: FlaskClient, *events: dict[str, Any]) -> None:
    for evt in events:
        response = se.deliver(client, evt)
        assert response.status_code == 200, response.get_data(as_text=True)


def once(
    n: int,
    amount: int,
    at: str,
    currency: str = "usd",
    email: str = "once@example.org",
) -> dict[str, Any]:
    session = se.checkout_session(
        mode="payment",
        amount=amount,
        currency=currency,
        email=email,
        payment_intent=f"pi_once{n}",
    )
    return se.event("checkout.session.completed", session, created=ts(at))


def dispute(n: int, amount: int, status: str, at: str) -> dict[str, Any]:
    obj = se.dispute(
        payment_intent=f"pi_once{n}", charge_id=f"ch_once{n}", amount=amount, status=status
    )
    return se.event("charge.dispute.created", obj, created=ts(at))


def recurring(
    n: int, amount: int, start: str, interval: str = "month", currency: str = "usd"
) -> list[dict[str, Any]]:
    customer, sub = f"cus_{n}", f"sub_{n}"
    subscription = se.subscription(
        subscription_id=sub,
        customer=customer,
        amount=amount,
        currency=currency,
        interval=interval,
        start_date=ts(start),
    )
    invoice = se.invoice(
        invoice_id=f"in_{n}",
        subscription=sub,
        customer=customer,
        amount=amount,
        currency=currency,
        email=f"recurring{n}@example.org",
        paid_at=ts(start),
    )
    return [
        se.event("customer.subscription.created", subscription, created=ts(start)),
        se.event("invoice.paid", invoice, created=ts(start)),
    ]


@pytest.fixture
def ledger(client: FlaskClient, app_ctx: None) -> None:
    deliver_all(
        client,
        once(1, 5000, "2026-09-01T00:00:00"),
        se.event(
            "charge.refunded",
            se.charge(payment_intent="pi_once1", amount=5000, amount_refunded=2000),
            created=ts("2026-09-05T00:00:00"),
        ),
        once(2, 3000, "2026-09-30T23:59:59"),
        dispute(2, 3000, "needs_response", "2026-10-02T00:00:00"),
        once(3, 4000, "2026-09-15T12:00:00"),
        dispute(3, 4000, "lost", "2026-09-20T00:00:00"),
        once(4, 1000, "2026-09-16T12:00:00"),
        dispute(4, 1000, "won", "2026-09-20T00:00:00"),
        once(5, 7000, "2026-08-31T23:59:59"),
        once(6, 9000, "2026-10-01T00:00:00"),
        *recurring(10, 500, "2026-09-10T08:00:00"),
        *recurring(11, 12100, "2026-09-12T08:00:00", interval="year"),
        *recurring(12, 5000, "2026-08-05T08:00:00", interval="year"),
        se.event(
            "customer.subscription.deleted",
            se.subscription(
                subscription_id="sub_12",
                customer="cus_12",
                amount=5000,
                interval="year",
                status="canceled",
                start_date=ts("2026-08-05T08:00:00"),
                canceled_at=ts("2026-09-20T08:00:00"),
                ended_at=ts("2026-09-20T08:00:00"),
            ),
            created=ts("2026-09-20T08:00:00"),
        ),
        se.event(
            "invoice.payment_failed",
            se.invoice(
                invoice_id="in_10_2",
                subscription="sub_10",
                customer="cus_10",
                amount=500,
                email="recurring10@example.org",
                status="open",
            ),
            created=ts("2026-09-25T08:00:00"),
        ),
        once(20, 2500, "2026-09-03T10:00:00", currency="eur", email="euro@example.org"),
        *recurring(21, 300, "2026-09-04T10:00:00", currency="eur"),
    )
    for created, sent, converted in [
        ("2026-09-02T00:00:00", "2026-09-09T00:00:00", "2026-09-10T00:00:00"),
        ("2026-09-30T23:59:59", None, None),
        ("2026-10-01T00:00:00", None, None),
    ]:
        db.session.add(
            Reminder(
                token=f"t{created}",
                email=None,
                due_at=datetime.fromisoformat(created).replace(tzinfo=UTC),
                status="converted" if converted else "scheduled",
                attempts=0,
                source="https://news.example/reminded",
                created_at=datetime.fromisoformat(created).replace(tzinfo=UTC),
                updated_at=datetime.fromisoformat(created).replace(tzinfo=UTC),
                sent_at=datetime.fromisoformat(sent).replace(tzinfo=UTC) if sent else None,
                converted_at=(
                    datetime.fromisoformat(converted).replace(tzinfo=UTC) if converted else None
                ),
            )
        )
    db.session.commit()


SEPTEMBER = Period("2026-09", "2026-09")


def test_revenue_per_currency_nets_refunds_and_disputes_within_utc_months(ledger: None) -> None:
    figures = {c.currency: c for c in dashboard(SEPTEMBER).currencies}
    assert sorted(figures) == ["EUR", "USD"]

    usd = figures["USD"].revenue
    assert (usd.payments, usd.gross_minor, usd.refunded_minor, usd.disputed_minor) == (
        6,
        25600,
        2000,
        7000,
    )
    assert usd.net_minor == 16600
    assert usd.net_by_frequency == {"once": 4000, "monthly": 500, "annual": 12100}
    assert usd.average_gift_minor == 25600 // 6

    august = figures["USD"].previous_revenue
    assert (august.payments, august.gross_minor, august.net_minor) == (2, 12000, 12000)

    eur = figures["EUR"].revenue
    assert (eur.payments, eur.gross_minor, eur.net_minor) == (2, 2800, 2800)
    assert eur.net_by_frequency == {"once": 2500, "monthly": 300, "annual": 0}


def test_october_holds_only_the_payment_at_its_first_instant(ledger: None) -> None:
    october = {c.currency: c for c in dashboard(Period("2026-10", "2026-10")).currencies}
    assert (october["USD"].revenue.payments, october["USD"].revenue.gross_minor) == (1, 9000)
    assert october["EUR"].revenue.payments == 0


def test_recurring_figures_mrr_arr_new_and_cancelled(ledger: None) -> None:
    figures = {c.currency: c for c in dashboard(SEPTEMBER).currencies}
    usd = figures["USD"].recurring
    # monthly 500 (past due still counts) + annual 12100 // 12 = 1008
    assert (usd.active, usd.mrr_minor, usd.arr_minor) == (2, 1508, 500 * 12 + 12100)
    assert (usd.started, usd.ended) == (2, 1)
    august = figures["USD"].previous_recurring
    assert (august.active, august.mrr_minor, august.started, august.ended) == (1, 5000 // 12, 1, 0)
    eur = figures["EUR"].recurring
    assert (eur.active, eur.mrr_minor, eur.arr_minor, eur.started) == (1, 300, 3600, 1)


def test_failures_and_reminders_counted_in_the_period(ledger: None) -> None:
    d = dashboard(SEPTEMBER)
    figures = {c.currency: c for c in d.currencies}
    assert (figures["USD"].failures.count, figures["USD"].failures.amount_minor) == (1, 500)
    assert figures["EUR"].failures.count == 0
    assert (d.reminders.scheduled, d.reminders.sent, d.reminders.converted) == (2, 1, 1)


def test_charts_hold_the_same_figures(ledger: None) -> None:
    d = dashboard(SEPTEMBER)
    september = [bar for bar in d.revenue_chart["USD"] if bar.month == "2026-09"]
    assert september[0].net_by_frequency == {"once": 4000, "monthly": 500, "annual": 12100}
    assert dict(d.active_chart)["2026-08"] == 1
    assert dict(d.active_chart)["2026-09"] == 3  # two USD and one EUR
    assert len(d.active_chart) == 24


def test_dashboard_page_shows_the_figures(
    ledger: None, signed_in_client: Callable[..., Any]
) -> None:
    page = signed_in_client("viewer").get("/staff/?from=2026-09").get_data(as_text=True)
    usd = page[page.index('id="currency-USD"') :]
    rows = dict(re.findall(r'data-figure="([a-z-]+)"><th scope="row">[^<]*</th><td>([^<]*)', usd))
    assert rows["gross"] == "$256.00"
    assert rows["net"] == "$166.00"
    assert rows["mrr"] == "$15.08"
    assert rows["arr"] == "$181.00"
    assert rows["cancelled"] == "1"
    eur = page[page.index('id="currency-EUR"') : page.index('id="currency-USD"')]
    assert "€28.00" in eur


def test_supporter_list_and_detail_totals(ledger: None) -> None:
    page = supporters_page("once@")
    assert [row.email for row in page.rows] == ["once@example.org"]
    row = page.rows[0]
    # 5000-2000 + 3000-3000 + 4000-4000 + 1000 + 7000 + 9000
    assert row.totals["USD"].net_minor == 3000 + 1000 + 7000 + 9000
    assert row.totals["USD"].gross_minor == 5000 + 3000 + 4000 + 1000 + 7000 + 9000
    assert row.first_gift_at == datetime(2026, 8, 31, 23, 59, 59, tzinfo=UTC)
    assert supporters_page("nobody-matches").rows == []
    assert supporters_page("50%_").rows == []  # wildcards are literal

    recurring_row = supporters_page("recurring10@").rows[0]
    assert (recurring_row.recurring_status, recurring_row.recurring_frequency) == (
        "past_due",
        "monthly",
    )
    detail = supporter_detail(recurring_row.id)
    assert [p.amount_minor for p in detail.payments] == [500]
    assert [f.amount_minor for f in detail.failures] == [500]


def test_at_risk_lists_the_past_due_support_and_its_failure(ledger: None) -> None:
    report = at_risk_report()
    assert [(r.email, r.amount_minor) for r in report.past_due] == [
        ("recurring10@example.org", 500)
    ]
    assert report.past_due_total == 1


def test_cohorts_share_still_active(ledger: None) -> None:
    cohorts = {c.month: c for c in cohorts_report(current="2026-11")}
    august, september = cohorts["2026-08"], cohorts["2026-09"]
    assert august.supports == 1
    assert august.retained[1] == 1  # 08-05 to 09-20 is one whole month
    assert august.retained[3] is None  # too young to tell in November
    assert september.supports == 3
    assert september.retained[1] == 3
    assert september.retained_percent[1] == 100.0
    assert cohorts["2026-10"].supports == 0


def test_sources_keep_currencies_apart(ledger: None) -> None:
    report = sources_report(SEPTEMBER)
    by_currency = {(r.currency, r.value): r for r in report.by_dimension["source"]}
    assert by_currency[("USD", "")].gross_minor == 25600
    assert by_currency[("EUR", "")].net_minor == 2800
    assert [(r.source, r.asked, r.sent, r.converted) for r in report.reminders] == [
        ("https://news.example/reminded", 2, 1, 1)
    ]


def test_sources_conversion_of_checkouts_by_article(
    client: FlaskClient, stripe: Any, app_ctx: None
) -> None:
    from tests.webhooks.test_ledger import open_attempt

    article = "https://news.example/a-story"
    paid = open_attempt(client, frequency="once", currency="EUR", amount="25", source=article)
    open_attempt(client, frequency="once", currency="EUR", amount="10", source=article)
    open_attempt(client, frequency="once", currency="EUR", amount="10", utm_campaign="winter")
    session = se.checkout_session(
        mode="payment",
        amount=2500,
        currency="eur",
        attempt_id=paid.id,
        frequency="once",
        payment_intent="pi_story",
        session_id=paid.stripe_session_id,
    )
    month = paid.created_at.strftime("%Y-%m")
    created = int(paid.created_at.timestamp())
    deliver_all(client, se.event("checkout.session.completed", session, created=created))

    report = sources_report(Period(month, month)).by_dimension
    articles = {r.value: r for r in report["source"]}
    story = articles[article]
    assert (story.checkouts, story.gifts_started, story.payments) == (2, 1, 1)
    assert story.net_minor == 2500
    assert story.conversion_percent == 50.0
    assert (articles[""].checkouts, articles[""].gifts_started) == (1, 0)
    campaigns = {r.value: r for r in report["utm_campaign"]}
    winter = campaigns["winter"]
    assert (winter.checkouts, winter.gifts_started, winter.conversion_percent) == (1, 0, 0.0)
    assert (campaigns[""].checkouts, campaigns[""].gifts_started) == (2, 1)
