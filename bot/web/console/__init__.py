"""The office's web console behind the login: dashboard, announcements, questions, staff.

`add_console_routes(app, deps)` is called by bot.web.server.build_app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web


async def _no_hook(identity: str) -> None:
    return None


def add_console_routes(app: web.Application, deps: Any) -> None:
    """Register the console's pages on the web application."""
    # Imported here: the chat command `web` and the CLI use bot.web.console.auth without
    # paying for aiohttp and Jinja2.
    from aiohttp import web

    from bot.web.console import pages
    from bot.web.console.auth import ConsoleAuth
    from bot.web.console.service import ConsoleService

    auth = ConsoleAuth(deps.storage, deps.settings)
    core = getattr(deps, "core", None)
    console = pages.Console(
        settings=deps.settings,
        auth=auth,
        service=ConsoleService(deps.storage, deps.settings, deps.topics),
        templates=pages.template_environment(),
        base_url=deps.base_url,
        staff_changed=core.staff_changed if core is not None else _no_hook,
    )
    if core is not None:
        core.staff_changed_hooks.append(auth.staff_removed)
    app[pages.CONSOLE] = console
    app.middlewares.append(pages.security_headers)
    app.router.add_static("/console/static/", pages.STATIC, name="console-static")
    routes = [
        web.get("/login", pages.login_help),
        web.get("/login/{token}", pages.login),
        web.post("/logout", pages.logout),
        web.post("/language", pages.choose_language),
        web.get("/", pages.dashboard),
        web.get("/announcements", pages.announcement_list),
        web.get("/announcements/new", pages.compose),
        web.post("/announcements/new", pages.compose_post),
        web.get("/announcements/{id}", pages.announcement_page),
        web.get("/announcements/{id}/progress", pages.announcement_progress),
        web.get("/announcements/{id}/edit", pages.edit),
        web.post("/announcements/{id}/edit", pages.edit_post),
        web.get("/announcements/{id}/cancel", pages.cancel_page),
        web.post("/announcements/{id}/cancel", pages.cancel_post),
        web.get("/unanswered", pages.unanswered),
        web.get("/staff", pages.staff),
        web.post("/staff", pages.staff_post),
        web.get("/audit", pages.audit),
    ]
    app.add_routes(routes)
