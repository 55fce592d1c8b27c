"""The web server of `ngo-bot run`: public feeds, health and metrics, and the staff console.

`server.py` builds the aiohttp application from `WebDeps` and runs it; `public.py` holds the
endpoints that need no login; `console/` the logged-in pages.
"""

from bot.web.server import WebDeps, WebServer, build_app

__all__ = ["WebDeps", "WebServer", "build_app"]
