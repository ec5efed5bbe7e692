"""Every route that changes something needs a CSRF token, except Stripe's signed webhook."""

from flask import Flask

from membership.extensions import csrf

# The webhook is signed by Stripe instead; the footer POST only prefills the support page
# (it stores nothing), so an article on another site can post its choice to it.
EXEMPT = {"webhooks.stripe_webhook", "support.support_from_footer"}


def test_only_the_webhook_and_footer_prefill_skip_csrf(app: Flask) -> None:
    posting = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    exempt = {
        endpoint
        for endpoint in posting
        if f"{app.view_functions[endpoint].__module__}.{app.view_functions[endpoint].__name__}"
        in csrf._exempt_views
    }
    assert exempt == EXEMPT
    assert "support.checkout" in posting - exempt
