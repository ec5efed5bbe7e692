"""``/account``: a supporter signs in by emailed link, sees their gifts, opens Stripe's
portal, downloads or erases what we hold, and changes, pauses or cancels a recurring gift.

Signed-out and signed-in pages share ``/account``. The session is the reader's cookie
session under ``service``'s own keys, apart from staff sign-in (Flask-Login).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from membership import stripe_gateway
from membership.account import changes, erasure, service
from membership.account.forms import PAUSE_MONTHS, AmountForm, EraseForm, SignInForm
from membership.config import current_settings
from membership.extensions import limiter
from membership.ledger.models import Supporter
from membership.web import rate_limits
from membership.web.sessions import csrf_token

log = logging.getLogger(__name__)
blueprint = Blueprint("account", __name__, url_prefix="/account")


def _ip_key() -> str:
    return rate_limits.client_address_key("account-ip")


def _within_email_limit(email: str) -> bool:
    """Count a request against its address's limit; False when over it. Counted here, not
    by a decorator, whose 429 would tell anyone the address asked lately."""
    return rate_limits.within_quiet_limit(
        "account-email",
        email.strip().lower(),
        current_app.config["ACCOUNT_SIGN_IN_LIMIT_PER_EMAIL"],
    )


@blueprint.route("", methods=["GET"])
def account() -> str:
    """The account page when signed in, else the form asking for a sign-in link."""
    supporter = service.signed_in_supporter(session)
    if supporter is None:
        return render_template("account/sign_in.html", form=SignInForm(), csrf_token=csrf_token())
    return _render_account(supporter, AmountForm(formdata=None), {})


def _render_account(supporter: Supporter, amount_form: AmountForm, errors: dict[int, str]) -> str:
    return render_template(
        "account/account.html",
        supporter=supporter,
        overview=service.overview(supporter),
        amount_form=amount_form,
        pause_months=PAUSE_MONTHS,
        errors=errors,
        csrf_token=csrf_token(),
    )


@blueprint.route("/sign-in", methods=["POST"])
@limiter.limit(
    lambda: current_app.config["ACCOUNT_SIGN_IN_LIMIT_PER_IP"], key_func=_ip_key, methods=["POST"]
)
def ask_for_link() -> tuple[str, int]:
    """Queue a link if the address is a supporter's: the same page, after the same work,
    for any well-formed address (``service.request_sign_in_link``)."""
    form = SignInForm()
    if not form.validate():
        page = render_template("account/sign_in.html", form=form, csrf_token=csrf_token())
        return page, 400
    email = form.email.data or ""
    wanted = _within_email_limit(email)
    if not wanted:
        log.info("sign-in link request over the per-email limit: dropped")
    service.request_sign_in_link(email, current_app.config["SECRET_KEY"], wanted=wanted)
    if current_app.config["ACCOUNT_SEND_LINKS_IN_BACKGROUND"]:
        current_app.extensions["membership.account.courier"].wake()
    return render_template("account/link_sent.html"), 200


@blueprint.route("/sign-in/<token>", methods=["GET"])
def confirm_sign_in(token: str) -> tuple[str, int]:
    """The link in the email: a page with one button. Mail scanners open links; only the
    reader's press (a POST) uses the single-use link."""
    if not service.link_is_usable(token):
        return render_template("account/link_unusable.html"), 404
    return render_template("account/confirm.html", token=token, csrf_token=csrf_token()), 200


@blueprint.route("/sign-in/<token>", methods=["POST"])
def sign_in(token: str) -> Response | tuple[str, int]:
    """Use the link (once) and sign this browser in."""
    if service.sign_in(session, token) is None:
        return render_template("account/link_unusable.html"), 404
    return redirect("/account", code=303)


@blueprint.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    service.sign_out(session)
    return redirect("/account", code=303)


def _signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """The view gets the signed-in supporter; a signed-out browser goes to ``/account``."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        supporter = service.signed_in_supporter(session)
        if supporter is None:
            return redirect("/account", code=303)
        return view(supporter, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@blueprint.route("/portal", methods=["POST"])
@_signed_in
def portal(supporter: Supporter) -> Response | tuple[str, int]:
    """Stripe's Customer Portal for the supporter's own customer, back to ``/account``."""
    settings = current_settings()
    try:
        url = changes.portal_url(settings, supporter, f"{settings.public_base_url}/account")
    except service.NoStripeCustomer:
        abort(404)
    except stripe_gateway.GatewayError:
        return render_template("account/stripe_unavailable.html"), 503
    return redirect(url, code=303)


@blueprint.route("/data", methods=["GET"])
@_signed_in
def data(supporter: Supporter) -> Response:
    """Everything held about the supporter, as a JSON download."""
    body = json.dumps(service.supporter_data(supporter), indent=2, sort_keys=True)
    response = make_response(body)
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = 'attachment; filename="our-data-about-you.json"'
    return response


@blueprint.route("/recurring/<int:recurring_id>/<kind>", methods=["POST"])
@_signed_in
def change(supporter: Supporter, recurring_id: int, kind: str) -> Response | tuple[str, int]:
    """Ask Stripe to change one of the supporter's recurring gifts; the ledger follows
    Stripe's webhook. Another's gift, or an unknown one: 404, nothing asked."""
    if kind not in changes.KINDS:
        abort(404)
    wanted = changes.Wanted(
        kind, amount_text=request.form.get("amount"), months_text=request.form.get("months")
    )
    try:
        recurring = service.their_recurring(supporter, recurring_id)
        changes.ask(current_settings(), recurring, wanted)
    except service.NotTheirs:
        abort(404)
    except changes.InvalidChange as exc:
        return _render_account(supporter, AmountForm(), {recurring_id: str(exc)}), 400
    except stripe_gateway.GatewayError:
        return render_template("account/stripe_unavailable.html"), 503
    return redirect("/account", code=303)


@blueprint.route("/recurring/<int:recurring_id>/cancel", methods=["GET"])
@_signed_in
def confirm_cancel(supporter: Supporter, recurring_id: int) -> str:
    """Before a gift is stopped: the page that offers a smaller amount or a pause first,
    and the button that stops it at the end of the period."""
    try:
        recurring = service.their_recurring(supporter, recurring_id)
    except service.NotTheirs:
        abort(404)
    gift = next(r for r in service.overview(supporter).recurring if r.id == recurring.id)
    return render_template(
        "account/confirm_cancel.html",
        gift=gift,
        pause_months=PAUSE_MONTHS,
        csrf_token=csrf_token(),
    )


@blueprint.route("/erase", methods=["GET"])
@_signed_in
def confirm_erase(supporter: Supporter) -> str:
    """The first confirmation: what erasing does, and the box to tick."""
    return render_template("account/erase.html", form=EraseForm(formdata=None))


@blueprint.route("/erase", methods=["POST"])
@_signed_in
def erase(supporter: Supporter) -> Response | tuple[str, int]:
    """The second: gifts cancelled, the Stripe customer deleted, the address erased here
    (``erasure.erase_supporter``), and this browser signed out."""
    form = EraseForm()
    if not form.validate():
        return render_template("account/erase.html", form=form), 400
    try:
        erasure.erase_supporter(current_settings(), supporter)
    except stripe_gateway.GatewayError:
        return render_template("account/stripe_unavailable.html"), 503
    service.sign_out(session)
    return redirect(url_for("account.erased"), code=303)


@blueprint.route("/erased", methods=["GET"])
def erased() -> str:
    """Said once the data is gone (the same page for anyone: it reveals nothing)."""
    return render_template("account/erased.html")


@blueprint.after_request
def private(response: Response) -> Response:
    """Account pages show one person's gifts: never cached, anywhere."""
    response.headers["Cache-Control"] = "no-store, private"
    response.vary.add("Cookie")
    return response


@blueprint.errorhandler(TooManyRequests)
def too_many(error: TooManyRequests) -> tuple[str, int]:
    """Over the per-address limit (this client's own count, never an email's)."""
    return render_template("errors/http.html", error=error, code=429), 429
