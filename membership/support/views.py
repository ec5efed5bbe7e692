"""Routes of the support flow. Each parses input, calls one service function, renders."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response as BaseResponse

from membership import identity
from membership.config import current_settings
from membership.extensions import csrf, limiter
from membership.i18n import current_language, gettext
from membership.reminders import prompt
from membership.support import service
from membership.support.forms import CheckoutForm
from membership.web import rate_limits
from membership.web.sessions import csrf_token

blueprint = Blueprint("support", __name__, url_prefix="/support")
# Session key: the checkout attempt this browser last opened (``cancelled`` offers its
# choices back to it alone).
_OPENED_ATTEMPT = "opened_attempt"


# The page is the same for everyone arriving with the same choices, except for the CSRF
# token: render it once per choice with a placeholder, then put each reader's token in.
# Contains "<", which autoescaping turns into "&lt;" in anything a reader typed, so no
# query parameter can ever produce the placeholder and receive the token.
_TOKEN_PLACEHOLDER = Markup("<csrf-token>")
_CACHED_PAGES = 512


def _render_page(
    choices: service.SupportChoices,
    notice: str = "",
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str | None] | None = None,
    token: str = _TOKEN_PLACEHOLDER,  # noqa: S107 - a placeholder, not a secret
) -> str:
    return render_template(
        "support/support.html",
        appeal=identity.appeal(current_language()),
        choices=choices,
        labels=service.FREQUENCY_LABELS,
        notice=notice,
        errors=errors or {},
        values=values or {"custom_amount": None, "email": None},
        csrf_token=token,
    )


def _page_cache() -> Callable[[bytes, str, str], str]:
    """Pages already rendered, per app, keyed by query string, notice and language (which
    ``Accept-Language`` may choose without any query)."""
    cache = current_app.extensions.get("membership.support_pages")
    if cache is None:

        @lru_cache(_CACHED_PAGES)
        def render(_query: bytes, notice: str, _language: str) -> str:
            return _render_page(_choices_from(), notice)

        cache = current_app.extensions["membership.support_pages"] = render
    return cache


def _blank_page(notice: str = "") -> tuple[str, int]:
    """The support page with nothing typed yet, with this reader's CSRF token.

    A GET is rendered once per query string (the choice and attribution are all in it);
    a footer's POST is rare and rendered each time."""
    if request.method == "GET":
        page = _page_cache()(request.query_string, notice, current_language())
    else:
        page = _render_page(_choices_from(), notice)
    return _with_csrf_token(page), 200


def _with_csrf_token(page: str) -> str:
    """A rendered (or cached) page with this reader's CSRF token in its form."""
    return page.replace(_TOKEN_PLACEHOLDER, csrf_token())


def _choices_from(values: dict[str, str] | None = None) -> service.SupportChoices:
    source = request.values if values is None else values
    return service.support_choices(
        current_settings(),
        frequency=source.get("frequency"),
        currency=source.get("currency"),
        amount=source.get("amount"),
        attribution=service.Attribution.from_mapping(source),
    )


@blueprint.route("", methods=["GET"])
def support() -> tuple[str, int]:
    """The support page; query parameters preselect the gift and record attribution."""
    return _blank_page()


@blueprint.route("", methods=["POST"])
@csrf.exempt
def support_from_footer() -> tuple[str, int]:
    """An article footer may post its choice here; this only prefills the page, stores nothing."""
    return _blank_page()


def _client_key() -> str:
    return rate_limits.client_address_key("checkout-ip")


@blueprint.route("/checkout", methods=["POST"])
@limiter.limit(lambda: current_settings().checkout_limit_per_ip, key_func=_client_key)
def checkout() -> BaseResponse | tuple[str, int]:
    """Validate the reader's choice and send them to Stripe Checkout (303)."""
    form = CheckoutForm()
    settings = current_settings()
    submitted = {
        "frequency": form.frequency.data or "",
        "currency": form.currency.data or settings.default_currency,
        "amount": form.chosen_amount(),
        **{name: getattr(form, name).data or "" for name in service.ATTRIBUTION_FIELDS},
        "reminder": form.reminder.data or "",
    }
    form_ok = form.validate()
    gift = None
    if not (form.amount.errors or form.custom_amount.errors):
        try:
            gift = service.make_gift(
                settings, submitted["frequency"], submitted["currency"], submitted["amount"]
            )
        except service.InvalidGift as exc:
            field = form.custom_amount if exc.field == "amount" else getattr(form, exc.field)
            field.errors = [*field.errors, exc.message]
    if not form_ok or gift is None:
        page = _render_page(
            _choices_from(submitted),
            errors={field.name: list(field.errors) for field in form if field.errors},
            values={"custom_amount": form.custom_amount.data, "email": form.email.data},
            token=csrf_token(),
        )
        return page, 400

    attribution = service.Attribution.from_mapping(submitted)
    email = (form.email.data or "").strip() or None
    try:
        opened = service.start_checkout(settings, gift, attribution, email)
    except service.StripeNotConfigured:
        return render_template("support/stripe_setup.html", gift=gift), 503
    except service.CheckoutUnavailable:
        return render_template("support/unavailable.html", query=submitted), 502
    session[_OPENED_ATTEMPT] = opened.attempt_id  # only this browser gets its choices back
    return redirect(opened.url, code=303)


@blueprint.route("/other-ways", methods=["GET"])
def other_ways() -> str:
    """Other ways to give, for readers whose cards our payment provider cannot take: the
    newsroom's text (``instance/other-ways.<lang>.md``) in the reader's language."""
    return render_template("support/other_ways.html", text=identity.other_ways(current_language()))


@blueprint.route("/thank-you", methods=["GET"])
def thank_you() -> tuple[str, int] | Response:
    """Thank the reader for exactly what Stripe confirmed, or say it is being confirmed."""
    settings = current_settings()
    try:
        confirmation = service.confirm_checkout(settings, request.args.get("session_id", ""))
    except service.UnknownSession:
        abort(404)
    except service.StripeNotConfigured:
        return render_template("support/stripe_setup.html", gift=None), 503
    except service.CheckoutUnavailable:
        return render_template("support/unavailable.html", query={}), 502
    page = render_template(
        "support/thank_you.html",
        confirmation=confirmation,
        appeal=identity.appeal(current_language()),
    )
    response = make_response(page)
    # The page states the gift: no shared or browser cache may keep it (a shared computer's
    # back button, a proxy), as for the cancelled page.
    response.headers["Cache-Control"] = "no-store, private"
    if confirmation.paid:
        prompt.mark_gave(response)  # the footer widget stops asking this browser for a while
    return response


@blueprint.route("/cancelled", methods=["GET"])
def cancelled() -> Response:
    """The reader left Stripe Checkout: offer the same choices again, those of the attempt
    the link names if this browser opened it. The link passes through Stripe, so its id
    alone gets a blank page: the choices include where the reader came from and, if a
    reminder brought them, the token that cancels it. Rendered each time, never cached."""
    attempt = request.args.get("attempt")
    mine = attempt is not None and attempt == session.get(_OPENED_ATTEMPT)
    choices = _choices_from(service.choices_after_cancel(attempt) if mine else {})
    notice = gettext("No payment was taken. Your choices are below if you would like to try again.")
    response = make_response(_with_csrf_token(_render_page(choices, notice)))
    response.headers["Cache-Control"] = "no-store, private"
    return response


def redirect_to_support() -> BaseResponse:
    """The site root: the support page is the front door."""
    query = request.query_string.decode("latin-1")
    return redirect(url_for("support.support") + (f"?{query}" if query else ""), code=302)


@blueprint.errorhandler(TooManyRequests)
def too_many_checkouts(error: TooManyRequests) -> tuple[str, int]:
    """Rate limited (``CHECKOUT_LIMIT_PER_IP``): nothing was opened at Stripe or stored."""
    return render_template("errors/http.html", error=error, code=429), 429
