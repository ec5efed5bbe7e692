"""A source is kept as the page the reader was on: no query, fragment or credentials."""

from __future__ import annotations

import pytest

from membership.attribution import page_of


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://news.test/a?email=reader%40example.org&mc_eid=1#c", "https://news.test/a"),
        ("  https://user:secret@News.test:8443/a/b?x=1 ", "https://news.test:8443/a/b"),
        ("https://news.test", "https://news.test"),
        ("http://[::1]:8080/a?b=1", "http://[::1]:8080/a"),
        ("footer-campaign", "footer-campaign"),
        ("newsletter?id=42", "newsletter"),
        ("http://[unbalanced/x?y=1", "http://[unbalanced/x"),
        ("?only=a-query", None),
        ("   ", None),
        (None, None),
    ],
)
def test_page_of(given: str | None, kept: str | None) -> None:
    assert page_of(given) == kept
