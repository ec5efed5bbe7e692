"""``flask demo seed`` and ``flask reports rebuild-rollups`` as an operator runs them."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from membership.extensions import db
from membership.models import Payment, Supporter
from membership.reports.models import MonthlyRevenue
from tests.reports.test_rollups import rollup_snapshot


def test_demo_seed_adds_what_it_says_and_reports_see_it(app: Flask, app_ctx: None) -> None:
    result = app.test_cli_runner().invoke(
        args=["demo", "seed", "--supporters", "8", "--payments", "30"]
    )
    assert result.exit_code == 0, result.output
    assert "added 8 supporters, 30 payments" in result.output
    assert db.session.scalar(select(func.count()).select_from(Supporter)) == 8
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 30
    assert db.session.scalar(select(func.sum(MonthlyRevenue.payments))) == 30
    emails = db.session.scalars(select(Supporter.email)).all()
    assert all(email.endswith("@example.org") for email in emails)


@pytest.mark.parametrize(
    "args",
    [["--supporters", "5", "--payments", "4"], ["--supporters", "0"], ["--payments", "-1"]],
    ids=["fewer-payments-than-supporters", "no-supporters", "negative-payments"],
)
def test_demo_seed_refuses_impossible_numbers(app: Flask, app_ctx: None, args: list[str]) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "seed", *args])
    assert result.exit_code == 2
    assert db.session.scalar(select(func.count()).select_from(Supporter)) == 0


def test_rebuild_rollups_repairs_lost_rollups(app: Flask, app_ctx: None) -> None:
    runner = app.test_cli_runner()
    assert (
        runner.invoke(args=["demo", "seed", "--supporters", "10", "--payments", "40"]).exit_code
        == 0
    )
    kept = rollup_snapshot()
    db.session.execute(delete(MonthlyRevenue))
    db.session.commit()
    assert rollup_snapshot() != kept

    result = runner.invoke(args=["reports", "rebuild-rollups"])
    assert result.exit_code == 0, result.output
    assert "rollups repaired from 40 payments" in result.output
    assert rollup_snapshot() == kept
