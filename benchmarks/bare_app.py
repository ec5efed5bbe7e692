"""The baseline for ``support_page.py``: one Flask route and nothing else.

It answers on ``/support`` so the two servers receive byte-identical requests and
the only difference measured is what the membership app does inside the request.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)

PAGE = "<!doctype html><title>Support us</title><h1>Support independent journalism</h1>"


@app.get("/support")
def support() -> str:
    """A short static page: the least work Flask can do to answer a GET."""
    return PAGE
