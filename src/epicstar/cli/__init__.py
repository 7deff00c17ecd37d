"""The ``epicstar`` command."""

from epicstar.cli.app import app, main

__all__ = ["app", "main"]
