"""``POST /stripe/webhook``: the only route exempt from CSRF (Stripe signs it instead)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from membership.config import current_settings
from membership.extensions import csrf
from membership.webhooks import service

blueprint = Blueprint("webhooks", __name__)

# Which answer tells Stripe what: 2xx stops retries; 500 asks for one (it may help).
_STATUS = {
    service.Outcome.PROCESSED: 200,
    service.Outcome.DUPLICATE: 200,
    service.Outcome.IGNORED: 200,
    service.Outcome.FAILED: 500,
}


@blueprint.route("/stripe/webhook", methods=["POST"])
@csrf.exempt
def stripe_webhook() -> tuple[Response, int]:
    """Verify, store once, process; 400 for what a retry cannot fix, 500 for what it can."""
    if (request.content_length or 0) > service.MAX_BODY_BYTES:
        return jsonify(error="body over 1 MB"), 413
    body = request.stream.read(service.MAX_BODY_BYTES + 1)
    if len(body) > service.MAX_BODY_BYTES:
        return jsonify(error="body over 1 MB"), 413
    try:
        event = service.parse_verified_event(
            current_settings(), body, request.headers.get("Stripe-Signature")
        )
    except service.InvalidEvent as exc:
        return jsonify(error=str(exc)), 400
    received = service.receive_event(current_settings(), event)
    return jsonify(id=received.event_id, outcome=received.outcome.value), _STATUS[received.outcome]
