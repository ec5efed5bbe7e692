"""Routes of the newsletter: sign-up (form and JSON), confirm, unsubscribe (and RFC 8058).

For readers: ``GET/POST /newsletter``, ``GET /newsletter/consent`` (the wording a widget
must show). From the confirmation email: ``GET /newsletter/confirm/<token>``,
``GET/POST /newsletter/unsubscribe/<token>``. ``POST /newsletter`` with JSON and the
consent wording may be called from article pages on ``CORS_ALLOWED_ORIGINS``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, make_response, render_template, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import TooManyRequests

from membership.extensions import csrf, limiter
from membership.i18n import gettext, lazy_gettext
from membership.newsletter import service, settings
from membership.newsletter.forms import NewsletterForm
from membership.web import cors, rate_limits
from membership.web.sessions import csrf_token

log = logging.getLogger(__name__)
blueprint = Blueprint("newsletter", __name__)

CROSS_SITE_PATHS = {"/newsletter", "/newsletter/consent"}
SIGNUP_FIELDS = ("email", "consent", "lang", "source")
CHECK_YOUR_INBOX = lazy_gettext(
    "Check your inbox: if this address can be subscribed, we have sent it a link to confirm. "
    "Nothing is sent to it until then."
)


def _ip_key() -> str:
    return rate_limits.client_address_key("newsletter-ip")


def _within_email_limit(email: str) -> bool:
    """Count a sign-up against its address's limit; False when over it. Counted here, not
    by a decorator, whose 429 would tell anyone the address signed up lately."""
    return rate_limits.within_quiet_limit(
        "newsletter-email", email, settings.current().signup_limit_per_email
    )


@blueprint.get("/newsletter")
def signup_form() -> tuple[str, int]:
    """The sign-up page: email, language, and the consent wording beside its checkbox."""
    form = NewsletterForm(formdata=None, data={"source": request.args.get("source", "")})
    return _render_form(form, {}), 200


@blueprint.get("/newsletter/consent")
def consent() -> Response:
    """The wording a sign-up agrees to, for a widget to show word for word (it is what is
    recorded), with the privacy policy's address and the languages offered."""
    current = settings.current()
    return jsonify(
        wording=service.consent_wording(current),
        privacy_policy_url=current.privacy_policy_url,
        languages=list(current.languages),
    )


@blueprint.post("/newsletter")
# JSON comes cross-site from article widgets (a JSON content type needs a CORS preflight,
# which only configured origins pass); form posts check their CSRF token first thing.
@csrf.exempt
@limiter.limit(lambda: settings.current().signup_limit_per_ip, key_func=_ip_key, methods=["POST"])
def sign_up() -> Response | tuple[str, int]:
    """Accept a sign-up: 202 "check your inbox", whatever the address did before.

    A new address, a subscribed one, one waiting for its confirmation and one over its
    limit get the same answer after the same statement (``service.sign_up``); bad input
    is a 400 that stores nothing.
    """
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _json_error({"body": gettext("Send a JSON object with email and consent.")})
        form = NewsletterForm(formdata=MultiDict(_json_fields(body)))
    else:
        csrf.protect()
        form = NewsletterForm()
    errors = {} if form.validate() else form.field_errors()
    try:
        signup = service.parse_signup(settings.current(), form.values())
    except service.InvalidSignup as exc:
        errors.update({k: v for k, v in exc.errors.items() if k not in errors})
    if errors:
        if request.is_json:
            return _json_error(errors)
        return _render_form(form, errors), 400
    wanted = _within_email_limit(signup.email)
    if not wanted:
        log.info("newsletter sign-up over the per-email limit: dropped")
    service.sign_up(signup, wanted=wanted)
    if request.is_json:
        response = jsonify(status="accepted", message=str(CHECK_YOUR_INBOX))
        response.status_code = 202
        return response
    return render_template("newsletter/check_inbox.html", message=str(CHECK_YOUR_INBOX)), 202


def _json_fields(body: dict[str, object]) -> dict[str, str]:
    """The sign-up's fields as text; JSON ``true`` is consent, anything else is not."""
    fields = {}
    for name in SIGNUP_FIELDS:
        value = body.get(name)
        if isinstance(value, bool):
            fields[name] = "true" if value else ""
        elif isinstance(value, str | int | float):
            fields[name] = str(value)
    return fields


def _json_error(errors: dict[str, str]) -> Response:
    response = jsonify(status="invalid", message=" ".join(errors.values()), errors=errors)
    response.status_code = 400
    return response


def _render_form(form: NewsletterForm, errors: dict[str, str]) -> str:
    current = settings.current()
    return render_template(
        "newsletter/signup.html",
        form=form,
        errors=errors,
        wording=service.consent_wording(current),
        languages=current.languages,
        chosen=form.lang.data or service.reading_language(current),
        csrf_token=csrf_token(),
        days=service.CONFIRM_WITHIN.days,
    )


def _private(page: str, status: int) -> Response:
    """A page reached through a token: never cached, by the browser or on the way."""
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store, private"
    return response


def _unknown_link() -> Response:
    return _private(render_template("newsletter/unknown_link.html"), 404)


@blueprint.get("/newsletter/confirm/<token>")
def confirm(token: str) -> Response:
    """Confirm the subscription; the link works once, within 7 days of signing up.

    :raise 404: the token is wrong, used or expired (nothing changes).
    """
    try:
        service.confirm(token)
    except service.UnknownToken:
        return _unknown_link()
    return _private(render_template("newsletter/confirmed.html"), 200)


@blueprint.get("/newsletter/unsubscribe/<token>")
def unsubscribe_page(token: str) -> Response:
    """The unsubscribe link: a page with one button (link scanners must not unsubscribe).

    :raise 404: no subscription or sign-up holds this token.
    """
    try:
        subscriber = service.subscription_for_unsubscribe(token)
    except service.UnknownToken:
        return _unknown_link()
    page = render_template("newsletter/unsubscribe.html", subscriber=subscriber, token=token)
    return _private(page, 200)


@blueprint.post("/newsletter/unsubscribe/<token>")
# No CSRF token: mail clients send this POST themselves (RFC 8058 one-click unsubscribe),
# and the unguessable token in the URL is the credential.
@csrf.exempt
def unsubscribe(token: str) -> Response:
    """Unsubscribe at once and erase the address.

    :raise 404: no subscription or sign-up holds this token (already done: nothing left).
    """
    try:
        was = service.unsubscribe(token)
    except service.UnknownToken:
        return _unknown_link()
    return _private(render_template("newsletter/unsubscribed.html", was=was), 200)


@blueprint.after_request
def allow_article_origins(response: Response) -> Response:
    """CORS for the widget's routes (no cookie travels with them)."""
    return cors.allow_article_origins(response, CROSS_SITE_PATHS)


@blueprint.errorhandler(TooManyRequests)
def too_many_signups(error: TooManyRequests) -> Response:
    """Rate limited per client address (the caller's own, which says nothing of anyone)."""
    message = gettext("Too many sign-ups from here; please try again later.")
    if request.is_json:
        response = jsonify(status="rate_limited", message=message)
        response.status_code = 429
        return response
    return make_response(render_template("errors/http.html", error=error, code=429), 429)
