"""The safe Markdown subset: what the newsroom may write, and everything else escaped."""

from __future__ import annotations

import pytest

from membership.identity import markdown


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("Hello", "<p>Hello</p>"),
        ("One\n\nTwo", "<p>One</p>\n<p>Two</p>"),
        ("Line one\nline two", "<p>Line one line two</p>"),
        ("Line one  \nline two", "<p>Line one<br>\nline two</p>"),
        ("Line one\\\nline two", "<p>Line one<br>\nline two</p>"),
        ("**bold\nacross lines**", "<p><strong>bold across lines</strong></p>"),
        ("**bold** and *em*", "<p><strong>bold</strong> and <em>em</em></p>"),
        (
            "[About us](https://news.example/about?a=1&b=2)",
            '<p><a href="https://news.example/about?a=1&amp;b=2">About us</a></p>',
        ),
        (
            "[**Give**](http://x.example)",
            '<p><a href="http://x.example"><strong>Give</strong></a></p>',
        ),
        ("2 * 3 * 4", "<p>2 * 3 * 4</p>"),
    ],
    ids=[
        "paragraph",
        "paragraphs",
        "lines-run-on",
        "two-spaces-break",
        "backslash-breaks",
        "bold-across-lines",
        "bold-em",
        "link",
        "bold-link",
        "lone-stars",
    ],
)
def test_the_subset_is_rendered(source: str, html: str) -> None:
    assert markdown.render(source) == html


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
        ("[x](data:text/html,hi)", "<p>[x](data:text/html,hi)</p>"),
        (
            '[x](https://a.example/"onmouseover=1)',
            "<p>[x](https://a.example/&#34;onmouseover=1)</p>",
        ),
        ("# Heading", "<p># Heading</p>"),
        ("<b>**x**</b>", "<p>&lt;b&gt;<strong>x</strong>&lt;/b&gt;</p>"),
        ("![img](https://t.example/p.gif)", '<p>!<a href="https://t.example/p.gif">img</a></p>'),
    ],
    ids=["html", "javascript-link", "data-link", "quote-in-address", "heading", "tags", "image"],
)
def test_everything_else_is_escaped(source: str, html: str) -> None:
    assert markdown.render(source) == html


def test_plain_text_keeps_link_addresses_and_drops_marks() -> None:
    assert markdown.plain("**Give** to [us](https://x.example), *now*") == (
        "Give to us (https://x.example), now"
    )
