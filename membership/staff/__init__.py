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
    if app.extensions["membership.settings"].staff_host:
        app.before_request(_staff_pages_only_on_their_host)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "staff.login"
    login_manager.user_loader(load_user)


def _staff_pages_only_on_their_host() -> None:
    """With ``STAFF_HOST`` set, /staff on any other host (the readers') is a 404: the staff
    pages and their cookie never share an origin with the pages readers load.

    :raise 404: for /staff on another host
    """
    from flask import abort, request

    from membership.config import current_settings
    from membership.web.sessions import is_staff_request

    if is_staff_request() and request.host.lower() != current_settings().staff_host:
        abort(404)
