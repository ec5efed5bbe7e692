"""Every report page renders for staff, with demo data; exports stream the CLI's CSV and
are audited; a supporter's detail view is audited by id; bad input gets a 400. Who may
open which page is the table of ``tests/staff/test_roles.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from membership.demo import seed as demo_seed
from membership.extensions import db
from membership.models import Supporter
from membership.reports import export
from membership.staff.models import AuditEntry
from tests.conftest import from_dashboard

PAGES = [
    "/staff/",
    "/staff/?from=2025-01&to=2026-12",
    "/staff/reports/sources",
    "/staff/reports/sources?from=2024-12&to=2026-11",
    "/staff/reports/at-risk",
    "/staff/reports/cohorts",
]


@pytest.fixture
def demo_data(app_ctx: None) -> None:
    demo_seed.seed(40, 200, seed_value=3)


ADMIN_PAGES = ["/staff/supporters", "/staff/supporters?q=example.org&page=2"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_the_supporter_list_renders_for_an_admin(
    demo_data: None, signed_in_client: Callable[..., Any], path: str
) -> None:
    response = signed_in_client("admin").get(path)
    assert response.status_code == 200
    assert "<h1>" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", PAGES)
def test_each_report_renders_for_a_viewer(
    demo_data: None, signed_in_client: Callable[..., Any], path: str
) -> None:
    client = signed_in_client("viewer")
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "<h1>" in response.get_data(as_text=True)


def test_dashboard_draws_its_charts_inline_without_scripts(
    demo_data: None, signed_in_client: Callable[..., Any]
) -> None:
    page = signed_in_client("viewer").get("/staff/").get_data(as_text=True)
    assert page.count("<svg") >= 2  # revenue per currency, and active supporters
    assert "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/staff/?from=2026-13", "is not a month"),
        ("/staff/?from=9999-12", "is not a month"),
        ("/staff/reports/sources?from=9999-12", "is not a month"),
        ("/staff/?from=2026-05&to=2026-04", "ends (2026-04) before it starts"),
        ("/staff/reports/sources?from=nov", "is not a month"),
        ("/staff/supporters?page=0", "page must be"),
        ("/staff/supporters?page=x", "page must be"),
        ("/staff/exports/payments.csv?since=2026-02-30", "is not a day"),
        ("/staff/exports/payments.csv?since=2026-03-01&until=2026-03-01", "the period is empty"),
    ],
    ids=[
        "month-13",
        "year-9999",
        "sources-year-9999",
        "ends-before-start",
        "not-a-month",
        "page-0",
        "page-text",
        "bad-day",
        "empty",
    ],
)
def test_bad_query_gets_400_with_a_message(
    signed_in_client: Callable[..., Any], path: str, message: str
) -> None:
    client = signed_in_client("admin")
    response = client.get(from_dashboard(client, path) if "/exports/" in path else path)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_unknown_supporter_is_404(signed_in_client: Callable[..., Any]) -> None:
    assert signed_in_client("care").get("/staff/supporters/999999").status_code == 404


def test_supporter_detail_is_audited_by_id_not_email(
    demo_data: None, signed_in_client: Callable[..., Any]
) -> None:
    client = signed_in_client("care")
    supporter = db.session.scalars(select(Supporter).limit(1)).one()
    page = client.get(f"/staff/supporters/{supporter.id}").get_data(as_text=True)
    assert supporter.email in page

    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "view_supporter")
    ).one()
    assert entry.target == str(supporter.id)
    assert entry.staff_user_id == client.staff.id
    assert supporter.email not in repr(vars(entry))


@pytest.mark.parametrize(
    ("path", "action", "lines"),
    [
        ("/staff/exports/payments.csv", "export_payments", lambda: export.payment_rows()),
        ("/staff/exports/supporters.csv", "export_supporters", lambda: export.supporter_rows()),
    ],
    ids=["payments", "supporters"],
)
def test_admin_export_streams_the_cli_csv_and_is_audited(
    demo_data: None,
    signed_in_client: Callable[..., Any],
    path: str,
    action: str,
    lines: Callable[[], Any],
) -> None:
    client = signed_in_client("admin")
    response = client.get(from_dashboard(client, path))
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True) == "".join(lines())
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
    assert [e.staff_user_id for e in entries] == [client.staff.id]
