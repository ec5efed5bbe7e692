"""Reports: queries over the ledger, and the CSV exports staff and `flask export` share."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Staff report pages, ``flask reports`` and ``flask export``, the rollups kept up as
    the ledger writes (``rollups.connect``), and on PostgreSQL the search's index."""
    from membership.reports import rollups, search
    from membership.reports.cli import export_cli, reports_cli
    from membership.reports.views import blueprint

    app.register_blueprint(blueprint)
    app.cli.add_command(export_cli)
    app.cli.add_command(reports_cli)
    rollups.connect()
    search.declare_email_trigrams(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
