"""Staff routes: sign-in (password, then TOTP code), sign-out, profile, audit log.

The dashboard and reports under ``/staff/`` live in ``membership.reports``; they use
``membership.staff.access`` for who may see them.
"""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from membership import clock
from membership.config import current_settings
from membership.extensions import limiter
from membership.staff import audit, service
from membership.staff.access import (
    admin_required,
    mark_signed_in,
    safe_next,
    signed_in_required,
)
from membership.staff.forms import (
    ChangePasswordForm,
    CodeForm,
    ConfirmPasswordForm,
    SignInForm,
    SignOutForm,
)
from membership.staff.models import StaffUser
from membership.web.digits import whole_number
from membership.web.sessions import is_staff_request

blueprint = Blueprint("staff", __name__, url_prefix="/staff")

DASHBOARD = "/staff/"  # served by membership.reports
# Per address, over both steps of sign-in; on top of the failures counted per address and
# account (membership.staff.service), which every worker shares through the database.
SIGN_IN_RATE_LIMIT = "10 per minute"
_PENDING = "staff_pending_sign_in"
_PENDING_SECONDS = 300
_ENROLMENT = "staff_totp_enrolment"
AUDIT_PAGE_SIZE = 50


@blueprint.after_app_request
def _never_cache_staff_pages(response: Response) -> Response:
    """Staff pages show supporters' data: no browser or proxy may keep a copy."""
    if is_staff_request():
        response.headers["Cache-Control"] = "no-store"
    return response


def _sign_in(user: StaffUser) -> Response:
    """Both steps passed: a brand-new session, signed in, then where the user was going."""
    target = safe_next(session.get(_PENDING, {}).get("next")) or safe_next(request.args.get("next"))
    session.clear()  # a new session: nothing from before sign-in carries over
    login_user(user, remember=False)
    mark_signed_in()
    service.complete_sign_in(user, request.remote_addr)
    return redirect(target or DASHBOARD)


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.shared_limit(SIGN_IN_RATE_LIMIT, scope="staff_sign_in", methods=["POST"])
def login() -> Response | tuple[str, int]:
    """First step: email and password."""
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or DASHBOARD)
    form = SignInForm()
    error = ""
    if form.validate_on_submit():
        try:
            user = service.check_password(
                form.email.data or "", form.password.data or "", request.remote_addr
            )
        except service.SignInRefused as exc:
            error = str(exc)
        else:
            if not user.totp_enrolled:
                return _sign_in(user)
            next_path = safe_next(request.args.get("next"))
            session.clear()
            session[_PENDING] = {
                "id": user.id,
                "v": user.session_version,
                "at": clock.now().timestamp(),
                "next": next_path,
            }
            return redirect(url_for("staff.login_code"))
    status = 401 if error else 400 if form.errors else 200
    return render_template("staff/login.html", form=form, error=error), status


def _pending_user() -> StaffUser | None:
    pending = session.get(_PENDING)
    if not isinstance(pending, dict):
        return None
    started = pending.get("at")
    if not isinstance(started, int | float) or clock.now().timestamp() - started > _PENDING_SECONDS:
        return None
    return service.pending_user(int(pending.get("id", 0)), int(pending.get("v", 0)))


@blueprint.route("/login/code", methods=["GET", "POST"])
@limiter.shared_limit(SIGN_IN_RATE_LIMIT, scope="staff_sign_in", methods=["POST"])
def login_code() -> Response | tuple[str, int]:
    """Second step, for accounts with TOTP: the code of the authenticator app."""
    user = _pending_user()
    if user is None:
        session.pop(_PENDING, None)
        flash("Sign in again: the first step was too long ago or did not happen.")
        return redirect(url_for("staff.login"))
    form = CodeForm()
    error = ""
    if form.validate_on_submit():
        try:
            service.check_code(user, form.code.data or "", request.remote_addr)
        except service.SignInRefused as exc:
            error = str(exc)
        else:
            return _sign_in(user)
    status = 401 if error else 400 if form.errors else 200
    return render_template("staff/login_code.html", form=form, error=error), status


@blueprint.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    """GET asks to confirm (a link cannot sign anyone out); POST signs out."""
    form = SignOutForm()
    if request.method == "GET":
        if not current_user.is_authenticated:
            return redirect(url_for("staff.login"))
        return render_template("staff/logout.html", form=form)
    if not form.validate_on_submit():
        return redirect(url_for("staff.logout"))
    if current_user.is_authenticated:
        service.record_sign_out(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("staff.login"))


def _profile_page(
    password_form: ChangePasswordForm | None = None,
    remove_totp_form: ConfirmPasswordForm | None = None,
    password_error: str = "",
    totp_error: str = "",
) -> str:
    return render_template(
        "staff/profile.html",
        password_form=password_form or ChangePasswordForm(),
        remove_totp_form=remove_totp_form or ConfirmPasswordForm(),
        password_error=password_error,
        totp_error=totp_error,
        require_totp=current_settings().staff_require_totp,
    )


@blueprint.route("/profile")
@signed_in_required
def profile() -> str:
    """The account: role, second factor, password."""
    return _profile_page()


@blueprint.route("/profile/password", methods=["POST"])
@limiter.shared_limit(SIGN_IN_RATE_LIMIT, scope="staff_sign_in")
@signed_in_required
def change_password() -> Response | tuple[str, int]:
    """New password; every other session of the account ends."""
    form = ChangePasswordForm()
    error = ""
    if form.validate_on_submit():
        user: StaffUser = current_user._get_current_object()
        try:
            service.change_password(
                user, form.current.data or "", form.new.data or "", request.remote_addr
            )
        except (service.WrongPassword, service.PasswordRejected) as exc:
            error = str(exc)
        else:
            login_user(user, remember=False)  # this session goes on, with the new version
            flash("Your password is changed. Other sessions of your account are signed out.")
            return redirect(url_for("staff.profile"))
    else:
        error = " ".join(m for messages in form.errors.values() for m in messages)
    return _profile_page(password_form=form, password_error=error), 400


@blueprint.route("/profile/totp", methods=["GET", "POST"])
@signed_in_required
def enrol_totp() -> Response | tuple[str, int]:
    """Add the account to an authenticator app: QR code, then one code to confirm."""
    user: StaffUser = current_user._get_current_object()
    if user.totp_enrolled:
        return redirect(url_for("staff.profile"))
    form = CodeForm()
    error = ""
    sealed = session.get(_ENROLMENT)
    enrolment = service.totp_enrolment(user, sealed) if isinstance(sealed, str) else None
    if request.method == "POST" and enrolment is not None and form.validate_on_submit():
        try:
            service.enrol_totp(user, enrolment, form.code.data or "")
        except service.CodeRejected as exc:
            error = str(exc)
        else:
            session.pop(_ENROLMENT, None)
            flash("Two-step sign-in is on: you will be asked for a code each time.")
            return redirect(safe_next(request.args.get("next")) or url_for("staff.profile"))
    elif request.method == "POST":
        error = "Enter the 6-digit code your app shows now."
    if enrolment is None:
        enrolment = service.new_totp_enrolment(user)
        session[_ENROLMENT] = enrolment.sealed  # the session cookie is signed, not encrypted
    page = render_template("staff/enrol_totp.html", form=form, enrolment=enrolment, error=error)
    return page, 400 if error else 200


@blueprint.route("/profile/totp/remove", methods=["POST"])
@limiter.shared_limit(SIGN_IN_RATE_LIMIT, scope="staff_sign_in")
@signed_in_required
def remove_totp() -> Response | tuple[str, int]:
    """Turn the second factor off (the password confirms it is really the user)."""
    form = ConfirmPasswordForm()
    error = "Enter your current password."
    if form.validate_on_submit():
        try:
            service.remove_totp(
                current_user._get_current_object(), form.password.data or "", request.remote_addr
            )
        except service.WrongPassword as exc:
            error = str(exc)
        else:
            flash("Two-step sign-in is off.")
            return redirect(url_for("staff.profile"))
    return _profile_page(remove_totp_form=form, totp_error=error), 400


@blueprint.route("/audit")
@admin_required
def audit_log() -> str:
    """Who did what, newest first (admins only)."""
    asked = whole_number(request.args.get("page", "1"))
    number = asked if asked and asked < 1_000_000 else 1  # anything else: the first page
    entries, older = audit.audit_page(number, AUDIT_PAGE_SIZE)
    return render_template("staff/audit.html", entries=entries, page=number, older=older)


@blueprint.app_template_filter("utc")
def format_time(value: datetime | None) -> str:
    """UTC times on staff pages, to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""
