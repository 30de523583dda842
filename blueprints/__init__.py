"""HTTP routes, the OpenAPI document, the CLI command and the error handlers."""

from __future__ import annotations

from flask import Flask

from blueprints import analysis, api, cli, openapi, ui
from blueprints.errors import register_error_handlers


def register(app: Flask) -> None:
    """Attach every blueprint and the problem+json error handlers to ``app``."""
    app.register_blueprint(api.bp)
    app.register_blueprint(analysis.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(cli.bp)
    app.register_blueprint(ui.bp)
    register_error_handlers(app)


__all__ = ["register"]
