"""Admins search supporters by part of an email: what is typed is searched for literally
(wildcards, quotes and backslashes included), a part too short to search is refused with
a message, and on PostgreSQL a part that matches no one is answered from the trigram
index, not by reading every supporter."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from membership.extensions import db
from membership.models import Supporter
from membership.reports import search
from membership.reports.supporters import supporters_page
from membership.staff.models import AuditEntry
from tests.conftest import ON_POSTGRES
from tests.test_query_plans import own_copy, plan_of_sql, statements_of

NOW = datetime(2026, 11, 30, tzinfo=UTC)
EMAILS = [
    "ana_maria@example.org",
    "anaxmaria@example.org",
    "o'neil@example.org",
    "back\\slash@example.org",
    "per%cent@example.org",
    "percent@example.org",
]


@pytest.fixture
def supporters(app_ctx: None) -> None:
    db.session.add_all(Supporter(email=email, created_at=NOW) for email in EMAILS)
    db.session.commit()


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("a_m", ["ana_maria@example.org"]),
        ("r%c", ["per%cent@example.org"]),
        ("o'n", ["o'neil@example.org"]),
        ("k\\s", ["back\\slash@example.org"]),
        ("  PERCENT@", ["percent@example.org"]),
        ("maria@", ["anaxmaria@example.org", "ana_maria@example.org"]),
        ("nobody", []),
        ("Maria@Example.org", []),  # a whole address: that address only
        ("anaxmaria@example.org", ["anaxmaria@example.org"]),
    ],
    ids=[
        "underscore",
        "percent",
        "quote",
        "backslash",
        "case-and-spaces",
        "two",
        "none",
        "whole-address-no-one",
        "whole-address",
    ],
)
def test_a_part_of_an_email_is_searched_for_literally(
    supporters: None, typed: str, found: list[str]
) -> None:
    page = supporters_page(typed)

    assert [row.email for row in page.rows] == found  # newest first


@pytest.mark.parametrize("typed", ["ab", " a ", "é"])
def test_a_part_too_short_to_search_is_refused(supporters: None, typed: str) -> None:
    with pytest.raises(search.SearchTooShort, match="at least 3 characters"):
        supporters_page(typed)


def test_the_page_says_so_and_records_no_search(
    supporters: None, signed_in_client: Callable[..., Any]
) -> None:
    client = signed_in_client("admin")

    response = client.get("/staff/supporters?q=ab")

    assert response.status_code == 400
    assert "Type at least 3 characters of the email to search." in response.get_data(as_text=True)
    assert "ana_maria@example.org" not in response.get_data(as_text=True)
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "list_supporters" not in actions


@pytest.mark.skipif(not ON_POSTGRES, reason="the trigram index is PostgreSQL's (pg_trgm)")
def test_a_part_that_matches_no_one_is_answered_from_the_trigram_index(
    app_ctx: None,
) -> None:
    """Two hundred thousand supporters, known to the planner: no scan of them, whether
    the statement is planned once for any pattern or for this one. (The newest are read
    first, newest first and bounded; too few match there, so the index answers.)"""
    caught = statements_of(lambda: supporters_page("nobody-at-all"), "supporters")
    with db.engine.connect() as conn:
        own_copy(conn, "supporters")
        conn.execute(
            text(
                "INSERT INTO supporters (email, created_at) "
                "SELECT 'reader' || n || '@example.org', now() FROM generate_series(1, 200000) n"
            )
        )
        conn.execute(text("ANALYZE supporters"))
        listing = [(s, p) for s, p in caught if "ORDER BY supporters.id DESC" in s]
        newest = [(s, p) for s, p in listing if "newest" in s]
        whole = [(s, p) for s, p in listing if "newest" not in s]
        assert len(newest) == 1 and len(whole) == 1, caught
        for statement, parameters in listing:
            assert "nobody-at-all" in statement  # written in, so planned for this pattern
            found = plan_of_sql(conn, statement, parameters)
            assert "Seq Scan" not in found, found
            if (statement, parameters) in newest:  # the newest first, a bounded read
                assert "Index Scan Backward using" in found, found
                continue
            # (The temporary copy names its copy of the index after the column.)
            assert re.search(r"Bitmap Index Scan on supporters_email_idx", found), found
            assert "Index Cond: ((email)::text ~~ '%nobody-at-all%'" in found, found
        conn.rollback()


def test_the_trigram_index_is_declared_only_for_postgresql(app_ctx: None) -> None:
    names = {index.name for index in Supporter.__table__.indexes}
    assert (search.EMAIL_TRIGRAMS in names) is ON_POSTGRES


@pytest.mark.parametrize("newest_first", [7, 60, 100_000])
@pytest.mark.parametrize("typed", ["@example", "1@exa", "old", "reader13", "17@", "nobody"])
def test_every_page_of_a_search_is_the_newest_matches_whoever_answers_it(
    app_ctx: None, monkeypatch: pytest.MonkeyPatch, newest_first: int, typed: str
) -> None:
    """Whether the newest supporters alone answer a page or the whole table does, a page
    holds the matches in order, newest first, none skipped or repeated across pages."""
    from membership.reports import supporters as supporters_module

    monkeypatch.setattr(supporters_module, "NEWEST_SEARCHED_FIRST", newest_first)
    emails = [f"{'old' if n < 40 else 'reader'}{n}@example.org" for n in range(160)]
    db.session.add_all(Supporter(email=email, created_at=NOW) for email in emails)
    db.session.commit()
    ids = dict(db.session.execute(select(Supporter.email, Supporter.id)).tuples().all())
    expected = sorted((ids[e] for e in emails if typed in e), reverse=True)
    shown: list[int] = []
    page = 1
    while True:
        result = supporters_page(typed, page)
        shown += [row.id for row in result.rows]
        if not result.has_next:
            break
        page += 1
    assert shown == expected
