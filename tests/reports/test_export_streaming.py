"""Exports of any size stream: the staff download is sent piece by piece as the rows are
read, and an export holds one batch of rows in memory, not the ledger
(``benchmarks/exports.py`` measures it at ten million payments)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from membership.demo import bulk
from membership.reports import export
from tests.conftest import from_dashboard

PAYMENTS = 6000


@pytest.fixture
def ledger(app_ctx: None) -> None:
    bulk.load(1000, PAYMENTS, seed_value=4)


def peak_bytes(lines: Iterator[str]) -> tuple[int, int]:
    """How many lines, and the most memory Python held at once while reading them."""
    tracemalloc.start()
    try:
        count = sum(piece.count("\r\n") for piece in lines)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_export_holds_a_batch_whatever_the_number_of_rows(
    ledger: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "BATCH_SIZE", 100)
    recent = datetime.now(UTC).date() - timedelta(days=15)  # a few hundred payments
    peak_bytes(export.payment_rows())  # warm: caches and compiled statements

    few, peak_few = peak_bytes(export.payment_rows(since=recent))
    every, peak_every = peak_bytes(export.payment_rows())

    assert every == PAYMENTS + 1 and 0 < few < every / 5, few
    # Five times the rows read or more, and not 300 KB more held (a list of the lines: 1 MB).
    assert peak_every - peak_few < 300_000, (peak_few, peak_every)


def test_the_staff_download_is_sent_as_it_is_read(
    app: Flask, ledger: None, signed_in_client: Callable[..., Any]
) -> None:
    client = signed_in_client("admin")

    response = client.get(from_dashboard(client, "/staff/exports/payments.csv"), buffered=False)

    assert response.status_code == 200
    assert response.is_streamed
    pieces = list(response.response)
    body = b"".join(pieces)
    assert len(pieces) > 3  # a batch of rows at a time, not one body
    assert max(len(piece) for piece in pieces) < len(body) / 3
    cli = app.test_cli_runner().invoke(args=["export", "payments"])
    assert body == cli.stdout_bytes
    assert body.count(b"\r\n") == PAYMENTS + 1
    response.close()
