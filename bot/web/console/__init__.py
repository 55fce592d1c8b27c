"""The office's web console behind the login: dashboard, announcements, questions, staff.

`add_console_routes(app, deps)` is called by bot.web.server.build_app.
"""

from __future__ import annotations

from aiohttp import web

from bot.questions.service import QuestionService
from bot.web.console import pages
from bot.web.console.service import ConsoleService
from bot.web.deps import WebDeps
from bot.weblogin import ConsoleAuth


def add_console_routes(app: web.Application, deps: WebDeps) -> None:
    """Register the console's pages on the web application."""
    auth = ConsoleAuth(deps.storage, deps.settings, deps.clock)
    core = deps.core
    console = pages.Console(
        settings=deps.settings,
        auth=auth,
        service=ConsoleService(deps.storage, deps.settings, deps.topics, deps.clock),
        questions=QuestionService(deps.storage, deps.settings, on_written=core.outbox_written),
        templates=pages.template_environment(),
        base_url=deps.base_url,
        staff_changed=core.staff_changed,
    )
    core.staff_changed_hooks.append(auth.staff_removed)
    app[pages.CONSOLE] = console
    app.middlewares.append(pages.security_headers)
    app.router.add_static("/console/static/", pages.STATIC, name="console-static")
    routes = [
        web.get("/login", pages.login_help),
        web.get("/login/{token}", pages.login),
        web.post("/login/{token}", pages.login_post),
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
        web.get("/questions", pages.questions),
        web.post("/questions/{id}/answer", pages.answer_post),
        web.get("/questions/{id}/close", pages.close_page),
        web.post("/questions/{id}/close", pages.close_post),
        web.get("/staff", pages.staff),
        web.post("/staff", pages.staff_post),
        web.get("/audit", pages.audit),
    ]
    app.add_routes(routes)
