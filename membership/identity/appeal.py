"""The appeal readers see above the choice of gift, and the "other ways to give" text.

Both are the newsroom's words, per language, from files under ``instance/`` that staff
edit without a deploy: ``appeal.<lang>.md`` and ``other-ways.<lang>.md``, written in
the safe Markdown subset of ``identity.markdown``. An appeal file reads::

    # Dear readers,

    The message: one or more paragraphs, with **bold**, *emphasis* and
    [links](https://news.example.org/about).

    --
    The editors

A first line starting with ``# `` is the headline; the lines after a line of just
``--`` are the signature. Without a file, the built-in English or Russian text is used
(English for any other language). A file is read again when it changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import current_app
from markupsafe import Markup

from membership.identity import markdown

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_SIGNATURE_RULE = re.compile(r"^\s*--\s*$", re.MULTILINE)
MAX_FILE_BYTES = 64 * 1024  # far above any appeal; a mistaken file never fills a page


@dataclass(frozen=True)
class Appeal:
    """The appeal in one language: HTML for pages, plain text for text emails."""

    headline: Markup
    message: Markup
    signature: Markup
    headline_text: str
    message_text: str
    signature_text: str


# Built-in appeals, in the spirit of the footer that started the project. {name} is the
# publication's name (PUBLICATION_NAME).
DEFAULT_APPEALS: dict[str, str] = {
    "en": """# Dear readers,

{name} is free for everyone, and we want to keep it that way. Independent journalism
takes time and money, and we answer only to you, our readers.

If our reporting matters to you, please **support us monthly**: it takes a minute, and
you can cancel anytime.

--
The editors of {name}
""",
    "ru": """# Дорогие читатели!

{name} — бесплатно для всех, и мы хотим, чтобы так было и дальше. Независимая
журналистика требует времени и денег, а отвечаем мы только перед вами, нашими читателями.

Если наша работа для вас важна, пожалуйста, **поддержите нас ежемесячно**: это займёт
минуту, а отменить поддержку можно в любой момент.

--
Редакция {name}
""",
}

DEFAULT_OTHER_WAYS: dict[str, str] = {
    "en": """Not every card works with our payment provider: readers in some countries
cannot pay by card at all. You can still support {name}.

**Bank transfer.** Write to us and we will send you our bank details.

**Other providers.** We will list here the services our readers can use where cards are
refused.

Thank you for finding a way.
""",
    "ru": """Не все карты принимает наш платёжный сервис: читатели в некоторых странах
вообще не могут заплатить картой. Вы всё равно можете поддержать {name}.

**Банковский перевод.** Напишите нам, и мы пришлём реквизиты.

**Другие сервисы.** Здесь мы перечислим сервисы, которыми можно воспользоваться, если
карту не принимают.

Спасибо, что ищете способ нас поддержать.
""",
}


def appeal(language: str) -> Appeal:
    """The appeal in ``language`` (``instance/appeal.<lang>.md``, else the built-in text)."""
    source = _instance_text("appeal", language) or _default(DEFAULT_APPEALS, language)
    return _parse_appeal(source)


def other_ways(language: str) -> Markup:
    """The "other ways to give" text in ``language``, as HTML paragraphs."""
    source = _instance_text("other-ways", language) or _default(DEFAULT_OTHER_WAYS, language)
    return markdown.render(source)


def _default(texts: dict[str, str], language: str) -> str:
    from membership.identity.publication import current_identity

    text = texts.get(_base_language(language), texts["en"])
    # str.replace, not format: a name may hold braces.
    return text.replace("{name}", current_identity().publication_name)


def _base_language(language: str) -> str:
    return (language or "en").lower().split("-")[0]


def _instance_text(kind: str, language: str) -> str | None:
    """The newsroom's file for ``kind`` in ``language`` (or its base language), if any."""
    language = (language or "").strip().lower()
    if not _LANGUAGE.match(language):  # also keeps paths inside instance/
        language = "en"
    folder = Path(current_app.instance_path)
    for candidate in dict.fromkeys((language, _base_language(language))):
        path = folder / f"{kind}.{candidate}.md"
        try:
            stat = path.stat()
        except OSError:
            continue
        return _read(path, stat.st_mtime_ns, stat.st_size)
    return None


@lru_cache(maxsize=64)
def _read(path: Path, _mtime_ns: int, _size: int) -> str:
    with path.open("rb") as file:
        return file.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")


def _parse_appeal(source: str) -> Appeal:
    text = source.replace("\r\n", "\n").strip()
    headline = ""
    if text.startswith("# "):
        first, _, text = text.partition("\n")
        headline = first[2:].strip()
    message, signature = _split_signature(text)
    return Appeal(
        headline=markdown.inline(headline) if headline else Markup(""),
        message=markdown.render(message),
        signature=markdown.render_lines(signature),
        headline_text=markdown.plain(headline),
        message_text="\n\n".join(
            "\n".join(markdown.plain(line) for line in lines)
            for lines in markdown.paragraphs(message)
        ),
        signature_text=markdown.plain(signature.strip()),
    )


def _split_signature(text: str) -> tuple[str, str]:
    """The message, and the signature after a line of just ``--`` (if any)."""
    parts = _SIGNATURE_RULE.split(text, maxsplit=1)
    return parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")
