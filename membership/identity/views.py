"""The publication's logo, served by this app so no page asks another site for it."""

from __future__ import annotations

from flask import Blueprint, abort, send_file
from werkzeug.wrappers import Response

from membership.identity.publication import current_identity
from membership.identity.settings import LOGO_TYPES

blueprint = Blueprint("identity", __name__, url_prefix="/publication")

# An SVG opened on its own is a document and could run script: this one may not.
_LOGO_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@blueprint.route("/logo<suffix>", methods=["GET"])
def logo(suffix: str) -> Response:
    """PUBLICATION_LOGO's file; 404 without one, or under another suffix.

    :raise 404: no logo is set, or ``suffix`` is not the logo's.
    """
    identity = current_identity()
    if identity.logo_path is None or suffix.lower() != identity.logo_suffix:
        abort(404)
    response = send_file(
        identity.logo_path, mimetype=LOGO_TYPES[suffix.lower()], max_age=3600, conditional=True
    )
    response.headers["Content-Security-Policy"] = _LOGO_POLICY
    return response
