"""The publication's logo, accent colour and icon, served by this app: no page asks another site."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file, send_from_directory
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


@blueprint.route("/accent.css", methods=["GET"])
def accent() -> Response:
    """ACCENT_COLOUR as the style sheets' ``--accent``: a file, as the Content-Security-Policy
    allows no inline style."""
    colour = current_identity().accent_colour
    response = Response(f":root {{ --accent: {colour}; }}\n", mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def favicon() -> Response:
    """``/favicon.ico``, which browsers ask for on any page without a ``<link rel=icon>``
    (a JSON answer, an image opened on its own): an icon, not a 404 in the logs."""
    return send_from_directory(
        current_app.static_folder or "static", "favicon.ico", mimetype="image/vnd.microsoft.icon"
    )
