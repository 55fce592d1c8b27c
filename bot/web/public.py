"""Endpoints without login: the calendar feeds, `/healthz` and `/metrics`."""

from __future__ import annotations

from aiohttp import web

from bot.health import check_health
from bot.web.deps import DEPS, WebDeps

TEXT = "text/plain"


def add_public_routes(app: web.Application, deps: WebDeps) -> None:
    """Register the public routes on the application."""
    app.router.add_get("/healthz", healthz, name="healthz")


async def healthz(request: web.Request) -> web.Response:
    """The decision of `ngo-bot health`: 200 with its line, or 503 naming what is late."""
    deps = request.app[DEPS]
    verdict = await check_health(deps.storage, deps.clock(), deps.settings.health_poll_seconds)
    return web.Response(
        status=200 if verdict.healthy else 503,
        text=verdict.line + "\n",
        content_type=TEXT,
        headers={"Cache-Control": "no-store"},
    )
