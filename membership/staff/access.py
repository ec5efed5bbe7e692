"""Who may see staff pages: ``staff_required``, ``care_required`` and ``admin_required``.

Each role sees what the one before it sees, and more (``membership.staff.models.Role``):
any signed-in account (a viewer) sees figures; care also finds and opens supporters one
at a time; admins also list supporters, export and read the audit log.

Signing in happens in two steps when an account has TOTP: the password, then the code.
Flask-Login only marks the session signed in after both, so a signed-in session has
always passed the second factor when the account has one. When ``STAFF_REQUIRE_TOTP``
is on, a signed-in account without TOTP may only reach its profile to enrol.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from membership import clock
from membership.config import current_settings
from membership.extensions import db
from membership.staff.models import Role, StaffUser
from membership.web.digits import is_digits

P = ParamSpec("P")
R = TypeVar("R")

# A staff session ends this long after sign-in, however active: a forgotten open
# browser does not stay a way into supporters' data.
SESSION_LIFETIME_SECONDS = 12 * 3600
SIGNED_IN_AT = "staff_signed_in_at"


def mark_signed_in() -> None:
    """Start the session's lifetime (called right after ``login_user``)."""
    session[SIGNED_IN_AT] = clock.now().timestamp()


def load_user(session_user_id: str) -> StaffUser | None:
    """Flask-Login's user loader: the account of the session, if it may still be used.

    A disabled account, a session older than the last password reset (the version
    in the id no longer matches) or older than ``SESSION_LIFETIME_SECONDS`` is treated
    as signed out on its next request.
    """
    user_id, _, version = session_user_id.partition(":")
    if not is_digits(user_id) or not is_digits(version):
        return None
    started = session.get(SIGNED_IN_AT)
    if not isinstance(started, int | float):
        return None
    if clock.now().timestamp() - started > SESSION_LIFETIME_SECONDS:
        return None
    user = db.session.get(StaffUser, int(user_id))
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a staff page of this site, else None (no open redirects)."""
    if not target or not target.startswith("/staff") or "\\" in target:
        return None
    if any(ord(c) < 32 for c in target):
        return None
    return target


def _here() -> str:
    return request.full_path.rstrip("?") if request.query_string else request.path


def needs_totp_enrolment(user: StaffUser) -> bool:
    """True when a second factor is mandatory and this account has none yet."""
    return current_settings().staff_require_totp and not user.totp_enrolled


def _refusal(*, enrolled: bool, roles: tuple[Role, ...] = ()) -> Response | None:
    """Where to send a request that may not see the page, or None when it may. Signed in
    with a role not in ``roles`` (when given): 403, before anything is looked up."""
    if not current_user.is_authenticated:
        return redirect(url_for("staff.login", next=_here()))
    if enrolled and needs_totp_enrolment(current_user):
        return redirect(url_for("staff.enrol_totp", next=_here()))
    if roles and current_user.role not in roles:
        abort(403, f"Your role ({current_user.role}) cannot open this page.")
    return None


def signed_in_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Signed in (password, and TOTP when enrolled), nothing more: for the profile pages."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        refusal = _refusal(enrolled=False)
        return refusal if refusal is not None else view(*args, **kwargs)

    return wrapped


def staff_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Signed in, active, and past TOTP when enrolled or mandatory; else off to sign in.
    Any role: for pages of figures that name no supporter."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        refusal = _refusal(enrolled=True)
        return refusal if refusal is not None else view(*args, **kwargs)

    return wrapped


def care_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """As ``staff_required``, and the account may see individual supporters (care or
    admin); a viewer gets 403."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        refusal = _refusal(enrolled=True, roles=(Role.CARE, Role.ADMIN))
        return refusal if refusal is not None else view(*args, **kwargs)

    return wrapped


def admin_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """As ``staff_required``, and the account is an admin; anyone else signed in gets 403."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        refusal = _refusal(enrolled=True, roles=(Role.ADMIN,))
        return refusal if refusal is not None else view(*args, **kwargs)

    return wrapped
