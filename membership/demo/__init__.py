"""Demo data: ``flask demo seed`` fills a development database with realistic activity."""

from flask import Flask


def init_app(app: Flask) -> None:
    """``flask demo``."""
    from membership.demo.cli import demo_cli

    app.cli.add_command(demo_cli)
