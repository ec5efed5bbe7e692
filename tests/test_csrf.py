"""Every route that changes something needs a CSRF token, except the few listed here, each
with its reason."""

from flask import Flask

from membership import create_app
from membership.extensions import csrf
from membership.web.sessions import STAFF_COOKIE
from tests.conftest import app_environ, csrf_token

# The webhook is signed by Stripe instead; the footer POST only prefills the support page
# (it stores nothing), so an article on another site can post its choice to it.
# Remind me later: POST /remind-me checks the token itself for form posts (JSON from the
# article widget cannot be sent cross-site without a CORS preflight); the cancel POST is sent
# by mail clients (RFC 8058 one-click), the unguessable token in its URL is the credential;
# snooze only sets a cookie in the caller's own browser and stores nothing.
EXEMPT = {
    "webhooks.stripe_webhook",
    "support.support_from_footer",
    "reminders.remind_me",
    "reminders.cancel",
    "newsletter.sign_up",  # checks its own form's token, as reminders.remind_me does
    "newsletter.unsubscribe",  # RFC 8058 one-click, from a mail client: no session
    "reminders.snooze",
    # The article footer's Continue: its session cookie does not travel from an article's
    # iframe, so it accepts only an article origin's (or its own frame's) Origin header.
    "embed.checkout",
}


def test_only_the_listed_routes_skip_the_app_wide_csrf_check(app: Flask) -> None:
    posting = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    exempt = {
        endpoint
        for endpoint in posting
        if f"{app.view_functions[endpoint].__module__}.{app.view_functions[endpoint].__name__}"
        in csrf._exempt_views
    }
    assert exempt == EXEMPT
    assert "support.checkout" in posting - exempt


OLD_KEY = "the-key-before-rotation-" + "o" * 32
NEW_KEY = "the-key-after-rotation-" + "n" * 32


def _post_form_opened_before_rotation(database_url: str, **rotated: str) -> int:
    """Open the sign-in form under OLD_KEY, then post it to an app whose SECRET_KEY is
    NEW_KEY (with ``rotated`` settings): the status of the answer."""
    before = create_app(app_environ(database_url, SECRET_KEY=OLD_KEY)).test_client()
    token = csrf_token(before, "/staff/login")
    cookie = before.get_cookie(STAFF_COOKIE, path="/staff")
    assert cookie is not None
    after = create_app(app_environ(database_url, SECRET_KEY=NEW_KEY, **rotated)).test_client()
    after.set_cookie(STAFF_COOKIE, cookie.value, path="/staff")
    data = {"csrf_token": token, "email": "nobody@example.org", "password": "not it"}
    return after.post("/staff/login", data=data).status_code


def test_a_form_opened_before_a_key_rotation_still_posts_while_the_old_key_is_a_fallback(
    app: Flask, database_url: str
) -> None:
    """As sessions do: a reader midway through the support form, a staff member on the
    sign-in page, is not turned back because SECRET_KEY moved to SECRET_KEY_FALLBACKS.
    (401: the sign-in itself is refused, not the form as a forgery.)"""
    assert _post_form_opened_before_rotation(database_url, SECRET_KEY_FALLBACKS=OLD_KEY) == 401


def test_a_form_signed_with_a_key_no_longer_kept_is_refused(app: Flask, database_url: str) -> None:
    assert _post_form_opened_before_rotation(database_url) == 400


def test_flask_wtfs_hook_is_replaced_in_place_by_one_that_looks_at_the_method_first(
    app: Flask,
) -> None:
    names = [hook.__name__ for hook in app.before_request_funcs[None]]
    assert "csrf_protect" not in names
    assert names[0] == "protect_unsafe_methods"  # where Flask-WTF's was: before every other


def test_a_post_is_checked_and_the_settings_still_switch_it_off(database_url: str) -> None:
    app = create_app(app_environ(database_url))
    client = app.test_client()
    refused = client.post("/staff/login", data={"email": "a@example.org"})
    assert refused.status_code == 400
    assert "This form has expired" in refused.get_data(as_text=True)
    assert client.get("/staff/login").status_code == 200
    for setting in ("WTF_CSRF_ENABLED", "WTF_CSRF_CHECK_DEFAULT"):
        app.config[setting] = False
        answer = client.post("/staff/login", data={"email": "a@example.org"})
        assert "This form has expired" not in answer.get_data(as_text=True), setting
        assert "Password" in answer.get_data(as_text=True)  # the form again, its own errors
        app.config[setting] = True
