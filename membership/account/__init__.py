"""Supporters' own accounts: sign-in by emailed link, their gifts, their data, and
changes to their recurring support through Stripe."""

from flask import Flask

from membership.account import models  # noqa: F401  (the account's tables)


def init_app(app: Flask) -> None:
    """``/account`` pages, staff's actions for a supporter, ``flask account`` and ``flask
    supporters``, and the thread that sends sign-in links."""
    from membership.account import sender, staff
    from membership.account.cli import account_cli, supporters_cli
    from membership.account.views import blueprint

    app.config.setdefault("ACCOUNT_SIGN_IN_LIMIT_PER_IP", "10 per hour;50 per day")
    app.config.setdefault("ACCOUNT_SIGN_IN_LIMIT_PER_EMAIL", "3 per hour;6 per day")
    # Tests send with ``send_queued_links`` themselves, to the SMTP sink.
    app.config.setdefault("ACCOUNT_SEND_LINKS_IN_BACKGROUND", not app.testing)
    app.extensions["membership.account.courier"] = sender.Courier(app)
    app.register_blueprint(blueprint)
    app.register_blueprint(staff.blueprint)
    app.cli.add_command(account_cli)
    app.cli.add_command(supporters_cli)
