"""The catalogues: every reader-facing string has a Russian translation, and the compiled
files the app reads are the .po files as written (``make translations`` makes both)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from membership.i18n import TRANSLATIONS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_ngettext": (1, 2)}


def catalogue(language: str) -> Catalog:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


def reader_facing_messages() -> Iterator[tuple[str, int, str]]:
    """(file, line, msgid) of every string wrapped for translation in the reader-facing
    templates and modules, as babel.cfg lists them (staff pages are left out there)."""
    with (TRANSLATIONS / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            yield filename, lineno, msgid


def test_reader_facing_strings_are_extracted_from_every_part() -> None:
    """babel.cfg still finds the strings: a moved folder would make the next test vacuous."""
    files = {filename.split("/")[1] for filename, _line, _msgid in reader_facing_messages()}
    assert {"support", "reminders", "newsletter", "account", "errors"} <= files


def test_every_reader_facing_string_has_a_russian_translation() -> None:
    russian = catalogue("ru")
    missing = []
    for filename, lineno, msgid in reader_facing_messages():
        message = russian.get(msgid)
        strings = [] if message is None else message.string
        strings = [strings] if isinstance(strings, str) else list(strings)
        if message is None or message.fuzzy or not strings or not all(strings):
            missing.append(f"{filename}:{lineno}: {msgid!r}")
    assert not missing, (
        "reader-facing strings without a Russian translation (run `make translations`, then "
        "translate them in membership/translations/ru/LC_MESSAGES/messages.po):\n"
        + "\n".join(missing)
    )


def test_russian_plurals_have_all_three_forms() -> None:
    russian = catalogue("ru")
    assert russian.num_plurals == 3
    for message in russian:
        if message.pluralizable:
            assert len(message.string) == 3 and all(message.string), message.id


def test_translations_keep_their_placeholders() -> None:
    """A translation that drops or renames %(amount)s would fail, or lie, when rendered."""
    russian = catalogue("ru")
    for message in russian:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        wanted = set(_placeholders(ids[-1]))
        for string in strings:
            assert set(_placeholders(string)) <= wanted | set(_placeholders(ids[0])), message.id
            assert set(_placeholders(ids[0])) <= set(_placeholders(string)) | {"num"}, message.id


def _placeholders(text: str) -> list[str]:
    return re.findall(r"%\((\w+)\)", text)


def _entries(messages: Iterator[Message] | Catalog) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Each translated message as (ids, strings), plural or not; untranslated ones left out
    (gettext falls back to the English msgid for those, and compiling leaves them out)."""
    entries = {}
    for message in messages:
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        strings = (message.string,) if isinstance(message.string, str) else tuple(message.string)
        # Compiling writes an untranslated plural as its English forms: nothing to compare.
        if ids[0] and not message.fuzzy and all(strings) and strings != ids:
            entries[ids] = strings
    return entries


@pytest.mark.parametrize("language", ["en", "ru"])
def test_compiled_catalogues_match_their_po_files(language: str) -> None:
    """The app reads the committed .mo files: they must say what the .po files say."""
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo").open("rb") as mo:
        compiled = _entries(read_mo(mo))
    assert compiled == _entries(catalogue(language)), (
        "run `make translations` to compile the catalogues again"
    )
