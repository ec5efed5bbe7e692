"""What staff do for a supporter from the supporter's page: send them a sign-in link (care
and admins, who may open the page), and cancel a recurring gift on their behalf (admins).

Both go through the supporter's own machinery: the link through the account's queue and
its per-address limit (``service.request_sign_in_link``), the cancel through the same
request to Stripe as the supporter's own button (``changes.ask``: at the end of the
period, with an idempotency key, the ledger following Stripe's webhook). Each is written
to the audit log by supporter id, never by email.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request, url_for
from werkzeug.wrappers import Response

from membership import stripe_gateway
from membership.account import changes, service
from membership.config import current_settings
from membership.extensions import db
from membership.ledger.models import Supporter
from membership.staff import audit
from membership.staff.access import admin_required, care_required
from membership.web import rate_limits

blueprint = Blueprint("account_staff", __name__, url_prefix="/staff/supporters")
MAX_ID = 2**31 - 1


def send_link_for_staff(supporter: Supporter, secret_key: str) -> bool:
    """Queue a sign-in link to the supporter, within the same per-address limit as a
    reader's own requests (a staff member cannot flood an inbox either); whether it was
    queued."""
    wanted = rate_limits.within_quiet_limit(
        "account-email", supporter.email, current_app.config["ACCOUNT_SIGN_IN_LIMIT_PER_EMAIL"]
    )
    service.request_sign_in_link(supporter.email, secret_key, wanted=wanted)
    return wanted


def _supporter(supporter_id: int) -> Supporter:
    supporter = db.session.get(Supporter, supporter_id)
    if supporter is None:
        abort(404)
    return supporter


def _back(supporter_id: int, done: str) -> Response:
    return redirect(url_for("reports.supporter_page", supporter_id=supporter_id, done=done), 303)


@blueprint.post(f"/<int(max={MAX_ID}):supporter_id>/sign-in-link")
@care_required
def send_sign_in_link(supporter_id: int) -> Response:
    """Email the supporter a link to their account (audited: queued, or over the limit)."""
    supporter = _supporter(supporter_id)
    queued = send_link_for_staff(supporter, current_app.config["SECRET_KEY"])
    audit.record_audit_now(
        audit.SEND_SIGN_IN_LINK, str(supporter_id), detail="queued" if queued else "over limit"
    )
    if queued and current_app.config["ACCOUNT_SEND_LINKS_IN_BACKGROUND"]:
        current_app.extensions["membership.account.courier"].wake()
    return _back(supporter_id, "link-sent" if queued else "link-limit")


@blueprint.post(f"/<int(max={MAX_ID}):supporter_id>/cancel")
@admin_required
def cancel_for_supporter(supporter_id: int) -> Response:
    """Cancel one of the supporter's recurring gifts (form field ``recurring``) at the end
    of its period, as they would themselves. Not theirs, or unknown: 404, nothing asked."""
    supporter = _supporter(supporter_id)
    try:
        recurring = service.recurring_of_supporter(supporter, request.form.get("recurring", ""))
    except service.NotTheirs:
        abort(404)
    detail = f"recurring {recurring.id}"
    try:
        changes.ask(current_settings(), recurring, changes.Wanted("cancel"))
    except changes.InvalidChange as exc:
        audit.record_audit_now(
            audit.CANCEL_FOR_SUPPORTER, str(supporter_id), detail=f"{detail}: refused"
        )
        abort(400, description=str(exc))
    except stripe_gateway.GatewayError:
        audit.record_audit_now(
            audit.CANCEL_FOR_SUPPORTER, str(supporter_id), detail=f"{detail}: stripe failed"
        )
        abort(503)
    audit.record_audit_now(audit.CANCEL_FOR_SUPPORTER, str(supporter_id), detail=detail)
    return _back(supporter_id, "cancel-asked")
