"""Routes of the article footer: the script, its markup, the framable page, its Continue.

``GET /embed/footer.js`` is the one script an article page includes; it asks
``/api/prompt`` whether to show anything, then ``GET /embed/footer/fragment`` for the
footer's markup, and posts its Continue as JSON to ``POST /embed/checkout``, which answers
with Stripe Checkout's address. ``GET /embed/footer`` is the same footer as a page only
the article origins may frame, working without JavaScript: its Continue posts to
``/embed/checkout`` with ``target="_top"`` and gets a 303 to Stripe. The article origins
(``CORS_ALLOWED_ORIGINS``) may read the fragment's and Continue's answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
)
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response as BaseResponse

from membership.config import current_settings
from membership.embed import service
from membership.embed.forms import FooterCheckoutForm
from membership.extensions import csrf, limiter
from membership.i18n import current_language, force_locale, gettext
from membership.identity import appeal, payment_methods, publication
from membership.newsletter import service as newsletter
from membership.newsletter import settings as newsletter_settings
from membership.reminders import service as reminders
from membership.support import service as support
from membership.web import cors, rate_limits, security_headers

blueprint = Blueprint("embed", __name__, url_prefix="/embed")

# Read by article pages on other origins: fetch() from footer.js, and the style sheet by
# tools that read a page's styles (an accessibility checker).
CROSS_SITE_PATHS = {"/embed/footer/fragment", "/embed/footer.css", "/embed/checkout"}
# Continue's rate limit is shared with the support page's: ``/support/checkout`` counts
# under its endpoint's name, and so does this one (``limiter.shared_limit``), per client
# address under the same key, so the footer adds no second allowance.
CONTINUE_SCOPE = "support.checkout"
# The script and its markup are the same for every reader: browsers and proxies may keep
# them a while, so a change of presets or wording reaches articles within the hour.
PUBLIC_CACHE = "public, max-age=3600"
FRAGMENT_CACHE = "public, max-age=300"


def _client_key() -> str:
    return rate_limits.client_address_key("checkout-ip")  # as support.views keys Continue


@blueprint.get("/footer.js")
def script() -> Response:
    """The one script an article page includes: fills each ``<div data-membership-footer>``."""
    body = _render_public("embed/footer.js", base=current_settings().public_base_url)
    response = make_response(body)
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


@blueprint.get("/footer.css")
def style() -> Response:
    """The footer's style sheet, in the publication's accent colour (``ACCENT_COLOUR``)."""
    body = _render_public("embed/footer.css", accent=current_settings().identity.accent_colour)
    response = make_response(body)
    response.mimetype = "text/css"
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


@blueprint.get("/footer/fragment")
def fragment() -> Response:
    """The footer's markup for the script, which puts it in the article page (its own
    shadow root); query ``lang``, ``frequency``, ``amount``, ``currency``."""
    response = make_response(_render_public("embed/fragment.html", **_footer("script")))
    response.headers["Cache-Control"] = FRAGMENT_CACHE
    response.vary.add("Accept-Language")
    return response


@blueprint.get("/footer")
def framed_footer() -> Response:
    """The footer as a page for an article's iframe, framable by the article origins only
    and working without JavaScript; query as the fragment's, and ``source``."""
    response = make_response(render_template("embed/frame.html", **_footer("frame")))
    origins = current_settings().reminders.cors_allowed_origins
    response.headers["Content-Security-Policy"] = security_headers.framable_by(origins)
    response.vary.add("Accept-Language")
    return response


@blueprint.post("/checkout")
# No CSRF token: the framed footer's session cookie does not travel from an article's
# iframe; where the request comes from is checked instead (``service.check_origin``).
@csrf.exempt
@limiter.shared_limit(
    lambda: current_settings().checkout_limit_per_ip, scope=CONTINUE_SCOPE, key_func=_client_key
)
def checkout() -> BaseResponse | tuple[str, int]:
    """The footer's Continue: validated as the support page's, then Stripe Checkout's
    address as JSON (``{"url": ...}``) to the script, or a 303 there for the framed form.

    :raise 403: the request comes from neither an article origin nor the framed footer.
    """
    settings = current_settings()
    as_json = request.is_json
    try:
        origin = service.origin_of_request(
            request.headers.get("Origin"), request.headers.get("Referer")
        )
        service.check_origin(settings, origin, framed_footer=not as_json)
    except service.RefusedOrigin as exc:
        if as_json:
            return _json({"status": "refused", "message": exc.reason}, 403)
        abort(403, exc.reason)
    values: Any = request.get_json(silent=True) if as_json else request.form.to_dict()
    if not isinstance(values, dict):
        message = gettext("Send a JSON object with frequency, currency and amount.")
        return _json({"status": "invalid", "message": message, "errors": {}}, 400)
    fields = service.checkout_fields(values)
    try:
        gift = service.choose_gift(settings, FooterCheckoutForm(formdata=MultiDict(fields)))
    except service.InvalidChoice as exc:
        if as_json:
            return _json(_invalid(exc.errors), 400)
        return _render_problem(fields, exc.errors), 400
    try:
        opened = support.start_checkout(
            settings, gift, support.Attribution.from_mapping(fields), email=None
        )
    except support.StripeNotConfigured:
        if as_json:
            message = gettext("Payments are not set up yet on this site.")
            return _json({"status": "unavailable", "message": message}, 503)
        return render_template("support/stripe_setup.html", gift=gift), 503
    except support.CheckoutUnavailable:
        if as_json:
            message = gettext(
                "We could not reach our payment provider. Nothing was charged; "
                "please try again in a minute."
            )
            return _json({"status": "unavailable", "message": message}, 502)
        return render_template("support/unavailable.html", query=fields), 502
    if as_json:
        return _json({"status": "ok", "url": opened.url}, 200)
    return BaseResponse(status=303, headers={"Location": opened.url})


def _invalid(errors: dict[str, str]) -> dict[str, Any]:
    return {"status": "invalid", "message": " ".join(errors.values()), "errors": errors}


def _json(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _render_public(template: str, **context: Any) -> str:
    """A template that is the same for every reader, rendered without the app's context
    processors: Flask-Login's reads the session, and Flask then adds ``Vary: Cookie``,
    which would keep shared caches from keeping the script and its markup."""
    context.setdefault("publication", publication())
    return current_app.jinja_env.get_template(template).render(context)


def _footer(
    mode: str,
    values: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    custom_amount: str = "",
) -> dict[str, Any]:
    """What the footer's template needs: ``script`` mode (inline forms, for footer.js) or
    ``frame`` (links to the reminder and newsletter pages, for an iframe without script).
    ``values`` default to the query: ``frequency``, ``amount``, ``currency``, ``source``."""
    settings = current_settings()
    values = request.args if values is None else values
    footer = service.footer(
        settings,
        frequency=values.get("frequency"),
        currency=values.get("currency"),
        amount=values.get("amount"),
        source=values.get("source"),
    )
    language = current_language()
    subscriptions = newsletter_settings.current()
    chosen = footer.offer(footer.frequency)
    # The sign-up records the consent wording in the language it is made in, which is the
    # footer's only if the newsletter is sent in it: show exactly what will be recorded.
    signs_up_in = (
        language if language in subscriptions.languages else subscriptions.default_language
    )
    with force_locale(signs_up_in):
        consent = newsletter.consent_wording(subscriptions)
    page_query = {
        "frequency": footer.frequency,
        "amount": chosen.selected_preset or "",
        "currency": footer.currency,
        **({"source": footer.source} if footer.source else {}),
        "lang": language,
    }
    return dict(
        mode=mode,
        # The script's markup lives on the article's page: every address in it is absolute.
        base=settings.public_base_url if mode == "script" else "",
        footer=footer,
        language=language,
        the_appeal=appeal(language),
        methods=payment_methods(),
        when_choices=tuple(reminders.WHEN_CHOICES),
        default_when=reminders.DEFAULT_WHEN,
        consent_wording=consent,
        newsletter_language=signs_up_in,
        remind_query=page_query,
        newsletter_query={"source": footer.source or "", "lang": language},
        errors=errors or {},
        custom_amount=custom_amount or chosen.custom_amount,
    )


def _render_problem(fields: dict[str, str], errors: dict[str, str]) -> str:
    """A framed Continue that cannot go on: the footer again, in the top window, with why."""
    footer = _footer("frame", fields, errors, fields.get("custom_amount", ""))
    return render_template("embed/problem.html", **footer)


@blueprint.after_request
def allow_article_origins(response: Response) -> Response:
    """CORS for what the script reads: the fragment, Continue's answer (no cookie)."""
    return cors.allow_article_origins(response, CROSS_SITE_PATHS)


@blueprint.errorhandler(TooManyRequests)
def too_many_checkouts(error: TooManyRequests) -> Response:
    """Rate limited as the support page's Continue (``CHECKOUT_LIMIT_PER_IP``): nothing was
    opened at Stripe or stored."""
    if request.is_json:
        message = gettext("Too many requests from here; please try again in a few minutes.")
        return _json({"status": "rate_limited", "message": message}, 429)
    return make_response(render_template("errors/http.html", error=error, code=429), 429)
