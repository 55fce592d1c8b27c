"""The aiohttp application and its lifecycle inside `ngo-bot run` (BOT_WEB_LISTEN).

aiohttp.web because it is already installed (matrix-nio depends on it), it is asyncio-native, so
it shares the one event loop with the transports, the dispatcher and the scheduler without a
thread or a second server process, and it runs as a plain Service (start/stop) of BotRuntime.
Pages are Jinja2 templates with autoescaping on for every template.
"""

from __future__ import annotations

import logging
from pathlib import Path

import jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from bot.config import ConfigError
from bot.i18n import _, ngettext
from bot.web.deps import DEPS, TEMPLATES, WebDeps

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# Headers every answer carries unless its handler set them: no MIME sniffing, no framing (no
# clickjacking of the console's forms), and no Referer leaving the site (a login link's token
# must not travel to a linked page).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
SHUTDOWN_TIMEOUT = 5.0

__all__ = ["DEPS", "TEMPLATES", "WebDeps", "WebServer", "build_app", "template_environment"]


def template_environment() -> jinja2.Environment:
    """Jinja2 over bot/web/templates: autoescaping everywhere, `_`/`ngettext` from the catalogs
    (the current language: wrap rendering in `bot.i18n.use_language`)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # 404, 405, redirects raised by handlers
        for name, value in SECURITY_HEADERS.items():
            exc.headers.setdefault(name, value)
        raise
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def build_app(deps: WebDeps) -> web.Application:
    """The whole web application: the public endpoints and the staff console."""
    from bot.web.console import add_console_routes
    from bot.web.public import add_public_routes

    app = web.Application(middlewares=[security_headers])
    app[DEPS] = deps
    app[TEMPLATES] = template_environment()
    add_public_routes(app, deps)
    add_console_routes(app, deps)
    return app


class RouteAccessLogger(AbstractAccessLogger):
    """One DEBUG line per request naming the route, never the path or query: a login link's
    token, a feed's topic or any other value in a URL stays out of the log."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = "unmatched"
        match_info = getattr(request, "match_info", None)
        if match_info is not None and match_info.route.resource is not None:
            route = match_info.route.resource.canonical
        self.logger.debug(
            "%s %s -> %d in %.1f ms", request.method, route, response.status, time * 1000
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)


class WebServer:
    """A Service of BotRuntime: listens on BOT_WEB_LISTEN from start() until stop()."""

    def __init__(self, deps: WebDeps, host: str, port: int) -> None:
        self.deps = deps
        # '[::1]' in BOT_WEB_LISTEN is the IPv6 loopback; the socket wants it bare.
        self.host = host.removeprefix("[").removesuffix("]")
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        runner = web.AppRunner(
            build_app(self.deps),
            handle_signals=False,  # BotRuntime owns SIGTERM/SIGINT
            access_log_class=RouteAccessLogger,
            access_log=logging.getLogger("bot.web.access"),
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"BOT_WEB_LISTEN: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        self._runner = runner
        log.info("web server listening on %s:%d (%s)", self.host, self.port, self.deps.base_url)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
