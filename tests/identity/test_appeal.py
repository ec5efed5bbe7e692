"""The appeal and "other ways to give" text: the newsroom's files, else built-in words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from membership.identity import appeal, other_ways


@pytest.fixture
def instance(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app's instance folder, pointed at an empty folder for this test."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    with app.app_context():
        yield tmp_path


def test_without_files_the_built_in_appeals_speak_english_and_russian(instance: Path) -> None:
    english = appeal("en")
    assert english.headline == "Dear readers,"
    assert "<strong>support us monthly</strong>" in english.message
    assert "cancel anytime" in english.message
    assert english.signature == "The editors of Our newsroom"
    russian = appeal("ru")
    assert russian.headline == "Дорогие читатели!"
    assert russian.signature == "Редакция Our newsroom"
    assert appeal("ru-RU") == russian
    assert appeal("de") == english


def test_the_newsrooms_file_replaces_the_built_in_appeal(instance: Path) -> None:
    (instance / "appeal.ru.md").write_text(
        "# Дорогие читатели\n\nМы **независимы**.\n<img src=x onerror=alert(1)>\n\n"
        "Подробнее [о нас](https://news.example/about).\n\n--\nГлавный редактор\nИван Петров\n",
        encoding="utf-8",
    )
    russian = appeal("ru")
    assert russian.headline == "Дорогие читатели"
    assert russian.message == (
        "<p>Мы <strong>независимы</strong>. &lt;img src=x onerror=alert(1)&gt;</p>\n"
        '<p>Подробнее <a href="https://news.example/about">о нас</a>.</p>'
    )
    assert russian.signature == "Главный редактор<br>\nИван Петров"
    assert russian.message_text == (
        "Мы независимы. <img src=x onerror=alert(1)>\n\nПодробнее о нас (https://news.example/about)."
    )
    assert russian.signature_text == "Главный редактор\nИван Петров"
    assert appeal("en").headline == "Dear readers,"  # the other language keeps its own


def test_a_file_is_read_again_when_it_changes(instance: Path) -> None:
    path = instance / "appeal.en.md"
    path.write_text("# First\n\nOne")
    assert appeal("en").headline == "First"
    path.write_text("# Second headline\n\nTwo")
    assert appeal("en").headline == "Second headline"


def test_a_language_that_is_not_a_tag_never_reaches_the_file_system(instance: Path) -> None:
    (instance.parent / "appeal.secret.md").write_text("# Not this")
    assert appeal("../secret").headline == "Dear readers,"
    assert appeal("x/../../etc").headline == "Dear readers,"


def test_other_ways_to_give_has_defaults_and_reads_the_newsrooms_file(instance: Path) -> None:
    assert "Bank transfer" in other_ways("en")
    assert "Банковский перевод" in other_ways("ru")
    (instance / "other-ways.en.md").write_text(
        "**IBAN** DE00 0000\n\nOr [PayPal](https://paypal.example/us) <b>now</b>"
    )
    assert other_ways("en") == (
        "<p><strong>IBAN</strong> DE00 0000</p>\n"
        '<p>Or <a href="https://paypal.example/us">PayPal</a> &lt;b&gt;now&lt;/b&gt;</p>'
    )
