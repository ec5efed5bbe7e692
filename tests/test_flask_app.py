"""The app's Flask class asks once per function whether it is a coroutine, and still runs
a coroutine the way Flask does."""

import pytest
from flask import Flask

from membership.web.flask_app import MembershipFlask


def test_a_plain_function_is_asked_about_once(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(app, MembershipFlask)
    asked: list[object] = []
    flasks_own = Flask.ensure_sync

    def counting(self: Flask, func: object) -> object:
        asked.append(func)
        return flasks_own(self, func)  # type: ignore[arg-type]

    monkeypatch.setattr(Flask, "ensure_sync", counting)

    def hook() -> None:
        return None

    assert app.ensure_sync(hook) is hook
    assert app.ensure_sync(hook) is hook
    assert asked == [hook]


def test_a_coroutine_is_treated_as_flask_treats_it(app: Flask) -> None:
    async def view() -> str:
        return "done"

    try:
        expected = Flask.ensure_sync(app, view)
    except RuntimeError as flasks_refusal:  # Flask without its async extra
        with pytest.raises(RuntimeError, match=str(flasks_refusal)[:40]):
            app.ensure_sync(view)
        return
    assert app.ensure_sync(view)() == expected() == "done"
