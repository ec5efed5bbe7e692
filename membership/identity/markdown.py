"""The safe Markdown subset the newsroom's texts are written in (``instance/*.md``).

Paragraphs (separated by a blank line; a line ending in two spaces or a backslash
breaks the line, others run on as in Markdown), ``**bold**``,
``*emphasis*`` and ``[links](https://...)`` to http(s) addresses only. Everything else,
HTML included, is shown as the characters typed: the files are edited by people, not
reviewed as code, and their text lands on every page and in every email.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_LINK = re.compile(r"\[([^\[\]\n]+)\]\((https?://[^\s()<>\"']+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EMPHASIS = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")


def inline(text: str) -> Markup:
    """One paragraph's text with bold, emphasis and http(s) links; the rest escaped."""
    pieces: list[str] = []
    position = 0
    for link in _LINK.finditer(text):
        pieces.append(_emphasis(text[position : link.start()]))
        label, address = link.group(1), link.group(2)
        pieces.append(f'<a href="{escape(address)}">{_emphasis(label)}</a>')
        position = link.end()
    pieces.append(_emphasis(text[position:]))
    # Every piece is escaped text (``_emphasis``) or a tag built here around escaped text.
    return Markup("".join(pieces))  # noqa: S704


def _emphasis(text: str) -> str:
    escaped = str(escape(text))  # escaping leaves "*" alone, so the marks still match
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _EMPHASIS.sub(r"<em>\1</em>", escaped)


def paragraphs(text: str) -> list[list[str]]:
    """The text's paragraphs, each as its lines. As in Markdown, the lines of a paragraph
    run on as one, except after a hard break: a line ending in two spaces or a backslash."""
    result = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines: list[str] = []
        current: list[str] = []
        for raw in block.split("\n"):
            piece = raw.strip()
            hard = raw.endswith("  ") or piece.endswith("\\")
            piece = piece.removesuffix("\\").rstrip()
            if piece:
                current.append(piece)
            if hard and current:
                lines.append(" ".join(current))
                current = []
        if current:
            lines.append(" ".join(current))
        if lines:
            result.append(lines)
    return result


def render(text: str) -> Markup:
    """Markdown-subset text as HTML paragraphs."""
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(inline(line) for line in lines))
        for lines in paragraphs(text)
    )


def render_lines(text: str) -> Markup:
    """A short text (a signature) as lines joined by ``<br>``, without paragraphs."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return Markup("<br>\n").join(inline(line) for line in lines)


def plain(text: str) -> str:
    """The same text for a plain-text email: marks removed, links as "label (address)"."""
    text = _LINK.sub(r"\1 (\2)", text)
    text = re.sub(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", r"\1", text)
    return re.sub(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])", r"\1", text)
