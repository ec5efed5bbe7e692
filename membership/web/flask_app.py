"""The app's Flask class: Flask, with its hooks' sync-or-async check made once each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask


class MembershipFlask(Flask):
    """Flask asks ``inspect.iscoroutinefunction`` of every hook and view on every request
    (``ensure_sync``) to know whether to run it through an event loop. None of ours is a
    coroutine, and a function's answer never changes, so each is asked once. On the
    support page the eight asks cost more than Flask's own routing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._made_sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._made_sync[func]
        except KeyError:
            made = self._made_sync[func] = super().ensure_sync(func)
            return made
        except TypeError:  # an unhashable callable: asked each time, as Flask does
            return super().ensure_sync(func)
