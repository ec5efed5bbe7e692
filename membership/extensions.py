"""Flask extensions: created here, bound to an app in ``create_app``."""

from __future__ import annotations

import logging

import flask_limiter
from flask import Flask
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints stably."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
login_manager = LoginManager()


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, whose limits go on counting in this process while their store
    (``RATELIMIT_STORAGE_URI``, Redis in production) cannot be reached, and say so.

    Every limit of the app fails this way, none open: Continue (each opens a Checkout
    Session), staff sign-in, reminder sign-ups and finding supporters then hold per worker,
    each worker counting from zero, instead of not at all. The store is asked again after
    a growing pause (at most about half a minute); losing it and getting it back are
    logged, naming no one.
    """

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        self._storage_dead = False  # the store this app names is presumed reachable

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        was_down = self._storage_dead
        try:
            super()._check_request_limit(callable_name, in_middleware)
        finally:
            if self._storage_dead and not was_down:
                log.error(
                    "the rate limit store (RATELIMIT_STORAGE_URI) cannot be reached: every "
                    "limit now counts in this process alone until it answers again"
                )
            elif was_down and not self._storage_dead:
                log.warning("the rate limit store answers again: limits count there again")


# Constructor settings win over the app's RATELIMIT_* config: storage errors are never
# swallowed (that turned every limit off in silence); the in-memory fallback takes them.
limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[],
    in_memory_fallback_enabled=True,
    swallow_errors=False,
)
