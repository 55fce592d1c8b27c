"""The staff console: logged-in pages (login links, sessions, CSRF, the pages themselves)."""

from __future__ import annotations

from aiohttp import web

from bot.web.deps import WebDeps


def add_console_routes(app: web.Application, deps: WebDeps) -> None:
    """Register the console's routes on the application (none yet)."""
