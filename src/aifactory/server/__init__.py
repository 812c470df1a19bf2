"""The HTTP server."""

from aifactory.server.app import create_app

__all__ = ["create_app"]
