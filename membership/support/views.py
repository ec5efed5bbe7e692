"""Routes of the support flow. Each parses input, calls one service function, renders."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from membership.config import current_settings
from membership.extensions import csrf
from membership.support import service
from membership.support.forms import CheckoutForm

blueprint = Blueprint("support", __name__, url_prefix="/support")


def _render_support(
    form: CheckoutForm, choices: service.SupportChoices, status: int = 200, notice: str = ""
) -> tuple[str, int]:
    return (
        render_template(
            "support/support.html",
            form=form,
            choices=choices,
            labels=service.FREQUENCY_LABELS,
            notice=notice,
        ),
        status,
    )


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
    return _render_support(CheckoutForm(formdata=None), _choices_from())


@blueprint.route("", methods=["POST"])
@csrf.exempt
def support_from_footer() -> tuple[str, int]:
    """An article footer may post its choice here; this only prefills the page, stores nothing."""
    return _render_support(CheckoutForm(formdata=None), _choices_from())


@blueprint.route("/checkout", methods=["POST"])
def checkout() -> BaseResponse | tuple[str, int]:
    """Validate the reader's choice and send them to Stripe Checkout (303)."""
    form = CheckoutForm()
    settings = current_settings()
    submitted = {
        "frequency": form.frequency.data or "",
        "currency": form.currency.data or settings.default_currency,
        "amount": form.chosen_amount(),
        **{name: getattr(form, name).data or "" for name in service.ATTRIBUTION_FIELDS},
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
        return _render_support(form, _choices_from(submitted), status=400)

    attribution = service.Attribution.from_mapping(submitted)
    email = (form.email.data or "").strip() or None
    try:
        url = service.start_checkout(settings, gift, attribution, email)
    except service.StripeNotConfigured:
        return render_template("support/stripe_setup.html", gift=gift), 503
    except service.CheckoutUnavailable:
        return render_template("support/unavailable.html", query=submitted), 502
    return redirect(url, code=303)


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
    return render_template("support/thank_you.html", confirmation=confirmation), 200


@blueprint.route("/cancelled", methods=["GET"])
def cancelled() -> tuple[str, int]:
    """The reader left Stripe Checkout: offer the same choices again."""
    return _render_support(
        CheckoutForm(formdata=None),
        _choices_from(),
        notice="No payment was taken. Your choices are below if you would like to try again.",
    )


def redirect_to_support() -> BaseResponse:
    """The site root: the support page is the front door."""
    query = request.query_string.decode()
    return redirect(url_for("support.support") + (f"?{query}" if query else ""), code=302)
