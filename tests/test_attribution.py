"""Attribution keeps the page and campaign tags, and nothing that names a reader: no
query, fragment or credentials, no UTM value or path segment that looks like an
address, an id or a token."""

from __future__ import annotations

import pytest

from membership.attribution import page_of, tag_of


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
    ids=[
        "query-and-fragment",
        "credentials-and-case",
        "host-only",
        "ipv6",
        "not-an-address",
        "not-an-address-with-query",
        "unreadable-address",
        "query-only",
        "blank",
        "none",
    ],
)
def test_page_of(given: str | None, kept: str | None) -> None:
    assert page_of(given) == kept


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (
            "https://news.test/2026/11/02/city-council-votes",
            "https://news.test/2026/11/02/city-council-votes",
        ),
        ("https://news.test/u/reader@example.org/welcome", "https://news.test/u/welcome"),
        ("https://news.test/u/reader%40example.org/welcome", "https://news.test/u/welcome"),
        ("https://news.test/s/3f9a1c2b4d5e6f708192a3b4c5d6e7f8", "https://news.test/s"),
        ("https://news.test/x/123e4567-e89b-12d3-a456-426614174000/a", "https://news.test/x/a"),
        ("https://news.test/sub/5551234567/story", "https://news.test/sub/story"),
        ("https://news.test/t/eyJhbGciOiJIUzI1NiJ9/read", "https://news.test/t/read"),
        ("https://news.test/r/aZ3kP9qLm2Xw", "https://news.test/r"),
        ("https://news.test/mc_eid=abcdef0123456789abcd", "https://news.test"),
        ("reader@example.org", None),
        ("mailto:reader@example.org", None),
        ("footer/3f9a1c2b4d5e6f708192a3b4", "footer"),
    ],
    ids=[
        "article-kept",
        "email-segment",
        "escaped-email-segment",
        "hex-token",
        "uuid",
        "phone-number",
        "jwt-like",
        "base64-mixed-case",
        "only-segment-is-an-id",
        "an-email-as-source",
        "mailto",
        "not-an-address-with-id",
    ],
)
def test_path_segments_that_identify_someone_are_dropped(given: str, kept: str | None) -> None:
    assert page_of(given) == kept


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("winter", "winter"),
        (" spring-appeal_2026.v2 ", "spring-appeal_2026.v2"),
        ("newsletter-20261102", "newsletter-20261102"),
        ("reader@example.org", None),
        ("reader%40example.org", None),
        ("Reader+news@example.org", None),
        ("3f9a1c2b4d5e6f708192a3b4c5d6e7f8", None),
        ("sub-3f9a1c2b4d5e6f70", None),
        ("123e4567-e89b-12d3-a456-426614174000", None),
        ("84731922015", None),
        ("aGVsbG8gd29ybGQgdGhpcyBpcyBh", None),
        ("aZ3kP9qLm2Xw", None),
        ("a b", None),
        ("<script>", None),
        ("x" * 65, None),
        ("", None),
        (None, None),
    ],
    ids=[
        "campaign",
        "slug-with-separators",
        "dated-campaign",
        "email",
        "escaped-email",
        "email-with-plus",
        "md5-hex",
        "hex-in-a-slug",
        "uuid",
        "long-number",
        "base64",
        "mixed-case-token",
        "space",
        "markup",
        "too-long",
        "empty",
        "none",
    ],
)
def test_a_utm_value_is_kept_only_when_it_looks_like_a_campaign_tag(
    given: str | None, kept: str | None
) -> None:
    assert tag_of(given) == kept
