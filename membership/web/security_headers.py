"""Security headers on every response: what the browser may load, frame and send on.

The pages load only their own script, style sheet and images (the staff QR code is an
inline SVG, no script): the Content-Security-Policy allows nothing else and no page may
be framed (staff pages in another site's frame could be clicked through blind), but the
article footer, by the article origins alone (``framable_by``). No page
tells another site where the reader was: ``Referrer-Policy: same-origin`` sends no
referrer off this site, so Stripe Checkout, or a link out of a reminder's page, does not
learn which page a reader came from. In production, browsers are told to use HTTPS only
(HSTS); the app is always served over HTTPS there (README, Deploying).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000"  # a year; no includeSubDomains: the newsroom's other hosts are theirs


def framable_by(origins: Iterable[str]) -> str:
    """The policy of a page that ``origins`` (and nobody else) may frame: the article
    footer (``membership.embed``). Set by its view, it keeps the app from adding
    ``X-Frame-Options: DENY``, which has no way to name an origin; no origins, no frame."""
    ancestors = " ".join(origins) or "'none'"
    return CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


def init_app(app: Flask, *, production: bool) -> None:
    headers = {**HEADERS, **({"Strict-Transport-Security": HSTS} if production else {})}
    lowered = [(name.lower(), name, value) for name, value in headers.items()]

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        """Each header the view did not set itself. One pass over the response's headers:
        ``setdefault`` per header scanned them each time and raised an exception per miss,
        a tenth of what the support page costs."""
        present = {key.lower() for key, _ in response.headers}
        if "content-security-policy" in present and _names_its_framers(response):
            present.add("x-frame-options")  # DENY would contradict the view's framers
        response.headers.extend(
            [(name, value) for key, name, value in lowered if key not in present]
        )
        return response


def _names_its_framers(response: Response) -> bool:
    """The view's own policy lets some origins frame it (``framable_by``)."""
    policy = response.headers.get("Content-Security-Policy", "")
    return "frame-ancestors" in policy and "frame-ancestors 'none'" not in policy
