"""Every route that changes something needs a CSRF token, except the few listed here, each
with its reason."""

from flask import Flask

from membership.extensions import csrf

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
    "reminders.snooze",
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
