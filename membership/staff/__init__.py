"""Staff sign-in, accounts, the TOTP second factor and the audit log."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Staff sign-in pages, ``flask staff``, and Flask-Login for staff sessions: a session
    tied to the browser, no "remember me"."""
    from membership.extensions import login_manager
    from membership.staff.access import load_user
    from membership.staff.cli import staff_cli
    from membership.staff.views import blueprint

    app.register_blueprint(blueprint)
    app.cli.add_command(staff_cli)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "staff.login"
    login_manager.user_loader(load_user)
