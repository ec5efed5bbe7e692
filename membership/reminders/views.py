"""Routes of "remind me later": sign-up (form and JSON), cancel, snooze, the prompt check.

``POST /remind-me`` with JSON and the snooze and prompt routes are called from article
pages on other origins: the configured ``CORS_ALLOWED_ORIGINS`` may read their answers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    make_response,
    render_template,
    request,
)
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import TooManyRequests

from membership import clock
from membership.config import current_settings
from membership.extensions import csrf, limiter
from membership.i18n import gettext
from membership.reminders import prompt, service
from membership.reminders.forms import ReminderForm
from membership.web import cors, rate_limits
from membership.web.digits import whole_number
from membership.web.sessions import csrf_token

log = logging.getLogger(__name__)
blueprint = Blueprint("reminders", __name__)

# Routes that article pages on other origins call with fetch() (by path: a preflight
# OPTIONS may match either of the two rules of /remind-me).
CROSS_SITE_PATHS = {"/remind-me", "/remind-me/snooze", "/api/prompt"}
SIGNUP_FIELDS = ("email", "when", "date", "frequency", "amount", "currency", "source")


def _ip_key() -> str:
    return rate_limits.client_address_key("remind-ip")


def _within_email_limit(email: str) -> bool:
    """Count a sign-up against its address's limit (``REMINDER_SIGNUP_LIMIT_PER_EMAIL``);
    False when over it. Counted here rather than by a ``limiter.limit`` decorator, whose
    429 and rate-limit headers would tell anyone that the address signed up lately."""
    return rate_limits.within_quiet_limit(
        "remind-email", email, current_settings().reminders.signup_limit_per_email
    )


@blueprint.route("/remind-me", methods=["GET"])
def signup_form() -> tuple[str, int]:
    """The sign-up form, prefilled with the gift the reader was looking at (query string)."""
    form = ReminderForm(formdata=None, data=_prefill(request.args))
    return _render_form(form, {}), 200


@blueprint.route("/remind-me", methods=["POST"])
# Exempt from the app-wide check because the footer widget posts JSON cross-site (a JSON
# content type cannot be sent cross-site without a CORS preflight, which only configured
# origins pass); form posts check their CSRF token below, first thing.
@csrf.exempt
@limiter.limit(
    lambda: current_settings().reminders.signup_limit_per_ip, key_func=_ip_key, methods=["POST"]
)
def remind_me() -> Response | tuple[str, int]:
    """Schedule a reminder from the form or from JSON.

    The answer depends on what was sent, never on the address: whether it already has
    a reminder (then nothing changes) or is over its limit (then nothing is stored), the
    reader sees the same page or JSON, after the same work (``_accept``).
    """
    if request.is_json:
        return _signup_from_json()
    csrf.protect()
    form = ReminderForm()
    errors = {} if form.validate() else form.field_errors()
    signup = _parse(form, errors)
    if signup is None:
        return _render_form(form, errors), 400
    _accept(signup)
    return render_template("reminders/scheduled.html", due_on=signup.due_on), 200


def _accept(signup: service.Signup) -> None:
    wanted = _within_email_limit(signup.email)
    if not wanted:
        log.info("reminder sign-up over the per-email limit: dropped")
    service.schedule_reminder(signup, wanted=wanted)


def _signup_from_json() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _json_error({"body": gettext("Send a JSON object with email and when.")}, 400)
    fields = {
        name: str(value)
        for name, value in body.items()
        if name in SIGNUP_FIELDS
        and isinstance(value, str | int | float)
        and not isinstance(value, bool)
    }
    form = ReminderForm(formdata=MultiDict(fields))
    errors = {} if form.validate() else form.field_errors()
    signup = _parse(form, errors)
    if signup is None:
        return _json_error(errors, 400)
    _accept(signup)
    response = jsonify(status="accepted", scheduled_for=signup.due_on.isoformat())
    response.status_code = 202
    return response


def _parse(form: ReminderForm, errors: dict[str, str]) -> service.Signup | None:
    """Service checks on top of the form's; None (with ``errors`` filled) when anything fails."""
    try:
        signup = service.parse_signup(current_settings(), form.values(), clock.now().date())
    except service.InvalidSignup as exc:
        errors.update({k: v for k, v in exc.errors.items() if k not in errors})
        return None
    return None if errors else signup


def _json_error(errors: dict[str, str], status: int) -> Response:
    response = jsonify(status="invalid", message=" ".join(errors.values()), errors=errors)
    response.status_code = status
    return response


def _prefill(values: Mapping[str, str]) -> dict[str, str]:
    return {name: values.get(name, "") for name in ("frequency", "amount", "currency", "source")}


def _render_form(form: ReminderForm, errors: dict[str, str]) -> str:
    return render_template(
        "reminders/signup.html",
        form=form,
        errors=errors,
        when_choices=service.WHEN_CHOICES,
        chosen=form.when.data or service.DEFAULT_WHEN,
        # The gift the reminder is about, so the reader sees which (invalid parts dropped).
        considering=service.consideration_of(current_settings(), form.values()),
        csrf_token=csrf_token(),
        retention_days=current_settings().reminders.retention_days,
        tomorrow=clock.now().date() + timedelta(days=1),
    )


@blueprint.route("/remind-me/cancel/<token>", methods=["GET"])
def cancel_confirmation(token: str) -> tuple[str, int]:
    """The cancel link in the email: a confirmation (link scanners must not cancel by GET)."""
    try:
        reminder = service.reminder_by_token(token)
    except service.UnknownReminder:
        abort(404)
    return _render_cancel(reminder, token), 200


@blueprint.route("/remind-me/cancel/<token>", methods=["POST"])
# No CSRF token: mail clients send this POST themselves (RFC 8058 one-click unsubscribe),
# and the unguessable token in the URL is the credential.
@csrf.exempt
def cancel(token: str) -> tuple[str, int]:
    """Cancel at once; repeating it is harmless."""
    try:
        reminder = service.cancel_reminder(token)
    except service.UnknownReminder:
        abort(404)
    return _render_cancel(reminder, token), 200


def _render_cancel(reminder: Any, token: str) -> str:
    retention_days = current_settings().reminders.retention_days
    return render_template(
        "reminders/cancel.html", reminder=reminder, token=token, retention_days=retention_days
    )


@blueprint.route("/remind-me/snooze", methods=["POST"])
# No CSRF token: it only sets a cookie in the caller's own browser (the worst a forged
# request can do is hide our prompt for a while) and stores nothing.
@csrf.exempt
def snooze() -> Response:
    """Hide the support prompt in this browser for ``days`` days (default 30, at most 90)."""
    data: Any = request.get_json(silent=True) if request.is_json else request.form
    raw = data.get("days", prompt.DEFAULT_SNOOZE_DAYS) if isinstance(data, Mapping) else None
    days = raw if isinstance(raw, int) and not isinstance(raw, bool) else _int_or_none(raw)
    if days is None or not 1 <= days <= prompt.MAX_SNOOZE_DAYS:
        message = gettext(
            "days must be a whole number from 1 to %(most)s.", most=prompt.MAX_SNOOZE_DAYS
        )
        if request.is_json:
            return _json_error({"days": message}, 400)
        return make_response(render_template("reminders/snoozed.html", error=message), 400)
    until = prompt.snooze_until(days)
    if request.is_json:
        response = jsonify(status="snoozed", snoozed_until=until.isoformat(timespec="seconds"))
    else:
        response = make_response(render_template("reminders/snoozed.html", error=None, until=until))
    prompt.snooze(response, until)
    return response


def _int_or_none(raw: Any) -> int | None:
    text = str(raw).strip() if isinstance(raw, str | int) else ""
    return whole_number(text)


@blueprint.route("/api/prompt", methods=["GET"])
def prompt_check() -> Response:
    """Tell the footer widget whether to show the support prompt to this browser; not why:
    any script on the article page can read the answer, and "gave" would tell it (ads,
    analytics) that this reader supports the newsroom."""
    decision = prompt.decide(dict(request.cookies))
    response = jsonify(show=decision.show)
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Cookie")
    return response


@blueprint.after_request
def allow_article_origins(response: Response) -> Response:
    """CORS for the widget's routes, its snooze cookie included."""
    return cors.allow_article_origins(response, CROSS_SITE_PATHS, credentials=True)


@blueprint.errorhandler(TooManyRequests)
def too_many_signups(error: TooManyRequests) -> Response:
    """Rate limited (per client address only): say so plainly, as JSON to the widget or as
    a page to the form."""
    message = gettext("Too many reminder requests from here; please try again later.")
    if request.is_json:
        response = _json_error({"rate_limit": message}, 429)
    else:
        page = render_template("errors/http.html", error=error, code=429)
        response = make_response(page, 429)
    return response
