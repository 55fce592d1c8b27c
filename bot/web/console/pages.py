"""The console's HTTP handlers: read the request, call the console service, render a template.

Every page but the login ones needs a session (`staff_page`): without one a page redirects to
the login help, a POST is answered 401; a POST without the session's CSRF token is answered 403.
Handlers hold no SQL and no platform SDK.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from babel.dates import format_datetime
from markupsafe import Markup

from bot.announcements.model import AnnouncementError, Kind, Status
from bot.announcements.render import format_when
from bot.announcements.service import UnknownAnnouncement
from bot.config import LANGUAGES, Settings
from bot.i18n import LANGUAGE_NAMES, _, ngettext, use_language
from bot.questions.service import QuestionService, Settle
from bot.storage.questions import QuestionState
from bot.web.console import forms
from bot.web.console.chart import subscription_chart
from bot.web.console.service import (
    ConsoleService,
    StaffChangeError,
    add_staff,
    remove_staff,
)
from bot.weblogin import (
    LINK_LIFETIME,
    LOGIN_PATH,
    ConsoleAuth,
    StaffUser,
    csrf_valid,
    login_form_token,
    login_form_valid,
)

log = logging.getLogger(__name__)

SESSION_COOKIE = "ngo_console"
# The login form's double-submit token; sent back only to the login links' paths.
LOGIN_COOKIE = "ngo_login"
CSRF_FIELD = "csrf"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # The login link carries its token in the path: never send it on as a Referer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

# Words in the User-Agent of programs that fetch a link to show a preview of it.
PREVIEW_AGENTS = ("bot", "preview", "facebookexternalhit", "embedly", "whatsapp", "slack")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StaffHandler = Callable[[web.Request, StaffUser], Awaitable[web.StreamResponse]]
StaffChanged = Callable[[str], Awaitable[None]]


@dataclass
class Console:
    """What the handlers share: the services, the templates and how cookies are set."""

    settings: Settings
    auth: ConsoleAuth
    service: ConsoleService
    questions: QuestionService
    templates: jinja2.Environment
    base_url: str
    staff_changed: StaffChanged

    @property
    def secure_cookie(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"


CONSOLE = web.AppKey("console", Console)


def template_environment() -> jinja2.Environment:
    """Jinja2 with autoescaping on for every template, strings through the Babel catalogs."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: _(message), lambda s, p, n: ngettext(s, p, n), newstyle=True
    )
    return env


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]


def render(
    request: web.Request,
    name: str,
    user: StaffUser | None,
    status: int = 200,
    *,
    language: str | None = None,
    **context: Any,
) -> web.Response:
    """A page in the staff member's language (before login: `language`, else the default)."""
    console = console_of(request)
    language = user.language if user else language or console.settings.default_language
    tz = console.settings.timezone

    def when(moment: datetime | None) -> str:
        return format_when(moment, language, tz) if moment else ""

    def short(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return str(format_datetime(moment, "d MMM y, HH:mm", tzinfo=tz, locale=language))

    def topic_name(slug: str) -> str:
        topic = console.service.topics.get(slug)
        return topic.name(language) if topic is not None else slug

    with use_language(language):
        html = console.templates.get_template(name).render(
            topic_name=topic_name,
            user=user,
            language=language,
            languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            language_names=LANGUAGE_NAMES,
            path=request.path_qs,
            tab=context.pop("tab", ""),
            when=when,
            short=short,
            csrf_field=CSRF_FIELD,
            questions_enabled=console.settings.questions_enabled,
            **context,
        )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def staff_page(handler: StaffHandler) -> Handler:
    """A handler for signed-in staff, CSRF-checked on POST."""
    return guarded(handler, admin=False)


def admin_page(handler: StaffHandler) -> Handler:
    """A handler for signed-in administrators (BOT_ADMINS or the staff table's admins)."""
    return guarded(handler, admin=True)


def guarded(inner: StaffHandler, *, admin: bool) -> Handler:
    @functools.wraps(inner)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        console = console_of(request)
        user = await console.auth.user(request.cookies.get(SESSION_COOKIE))
        if user is None:
            if request.method == "GET":
                raise web.HTTPSeeOther("/login")
            return render(request, "login_help.html", None, status=401, expired=True)
        if request.method == "POST":
            posted = await request.post()
            if not console_csrf_ok(user, posted.get(CSRF_FIELD)):
                log.warning("refused a console POST without a valid CSRF token")
                return render(request, "error.html", user, status=403, reason="csrf")
        if admin and not user.is_admin:
            return render(request, "error.html", user, status=403, reason="admin")
        with use_language(user.language):
            return await inner(request, user)

    return wrapper


def console_csrf_ok(user: StaffUser, given: object) -> bool:
    return isinstance(given, str) and csrf_valid(user.session_token, given)


async def posted_form(request: web.Request) -> dict[str, str]:
    """The POSTed fields as text (files, which no form has, are ignored)."""
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


# --- login and logout ---------------------------------------------------------------------


async def login_help(request: web.Request) -> web.StreamResponse:
    """How to get a login link (the page a request without a session is sent to)."""
    console = console_of(request)
    user = await console.auth.user(request.cookies.get(SESSION_COOKIE))
    if user is not None:
        raise web.HTTPSeeOther("/")
    return render(request, "login_help.html", None, expired=False)


def is_link_preview(request: web.Request) -> bool:
    """A HEAD request, or a link-preview robot (Telegram's, a Matrix homeserver's, a chat app's
    unfurler): shown the login help without even looking the link up. Anything else that opens
    the link (a mail scanner, an unknown unfurler) gets the confirmation page, which does not use
    it either: only the button's POST does."""
    agent = request.headers.get("User-Agent", "").lower()
    return request.method == "HEAD" or any(word in agent for word in PREVIEW_AGENTS)


async def login(request: web.Request) -> web.StreamResponse:
    """Opening a one-time link: a page with a "Log in" button (the link stays unused), or the
    help page when the link cannot be used."""
    if is_link_preview(request):
        return render(request, "login_help.html", None, expired=False)
    return await login_confirmation(request, refused=False)


async def login_confirmation(request: web.Request, *, refused: bool) -> web.Response:
    """The "Log in" button's page with a fresh double-submit cookie; `refused`: after a POST
    whose tokens did not match (403)."""
    console = console_of(request)
    token = request.match_info["token"]
    identity = await console.auth.link_owner(token)
    if identity is None:
        return render(request, "login_help.html", None, status=403, expired=True)
    form_token = login_form_token(request.cookies.get(LOGIN_COOKIE))
    response = render(
        request,
        "login_confirm.html",
        None,
        status=403 if refused else 200,
        language=await console.auth.chat_language(identity),
        identity=identity,
        action=LOGIN_PATH + token,
        form_token=form_token,
        refused=refused,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        form_token,
        max_age=int(LINK_LIFETIME.total_seconds()),
        httponly=True,
        samesite="Strict",
        secure=console.secure_cookie,
        path=LOGIN_PATH,
    )
    return response


async def login_post(request: web.Request) -> web.StreamResponse:
    """The "Log in" button: its tokens must match, then the link is used (once) for a session
    and the browser goes to the dashboard."""
    console = console_of(request)
    posted = await request.post()
    if not login_form_valid(request.cookies.get(LOGIN_COOKIE), posted.get(CSRF_FIELD)):
        log.warning("refused a login POST whose double-submit token did not match")
        return await login_confirmation(request, refused=True)
    session = await console.auth.redeem(request.match_info["token"])
    if session is None:
        return render(request, "login_help.html", None, status=403, expired=True)
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        SESSION_COOKIE,
        session,
        httponly=True,
        samesite="Lax",
        secure=console.secure_cookie,
        path="/",
    )
    response.del_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    raise response


@staff_page
async def logout(request: web.Request, user: StaffUser) -> web.StreamResponse:
    await console_of(request).auth.logout(user.session_token)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@staff_page
async def choose_language(request: web.Request, user: StaffUser) -> web.StreamResponse:
    posted = await posted_form(request)
    await console_of(request).auth.set_language(user, posted.get("language", ""))
    raise web.HTTPSeeOther(local_path(posted.get("next", "/")))


def local_path(path: str) -> str:
    """Only a path on this site (never another host) to go back to."""
    parts = urlsplit(path)
    # A backslash counts as a slash in browsers: "/\\evil.example" would leave the site.
    if parts.scheme or parts.netloc or not path.startswith("/") or path[1:2] in ("/", "\\"):
        return "/"
    return path


# --- dashboard ------------------------------------------------------------------------------


@staff_page
async def dashboard(request: web.Request, user: StaffUser) -> web.StreamResponse:
    console = console_of(request)
    board = await console.service.dashboard()
    chart = subscription_chart(board.days, user.language)
    return render(request, "dashboard.html", user, board=board, chart=Markup(chart), tab="home")


# --- announcements --------------------------------------------------------------------------


@staff_page
async def announcement_list(request: web.Request, user: StaffUser) -> web.StreamResponse:
    try:
        number = int(request.query.get("page", "1"))
    except ValueError:
        number = 1
    page = await console_of(request).service.list_announcements(number)
    return render(
        request, "announcements.html", user, items=page.items, page=page, tab="announcements"
    )


async def compose_page(
    request: web.Request,
    user: StaffUser,
    form: forms.AnnouncementForm,
    *,
    editing: int | None = None,
    status: int = 200,
    preview: Any = None,
    published: bool = False,
) -> web.Response:
    console = console_of(request)
    topic = form.values.get("topic") or form.kind.default_topic
    return render(
        request,
        "compose.html",
        user,
        status=status,
        form=form,
        kinds=[(kind.value, kind.label) for kind in Kind],
        topics=topic_choices(console, user.language),
        remind_choices=[(code, _(label)) for code, label in forms.REMIND_CHOICES],
        repeat_choices=[(code, _(label)) for code, label in forms.REPEAT_CHOICES],
        previews=preview,
        recipients=await console.service.recipients(topic),
        editing=editing,
        published=published,
        tab="announcements",
    )


def topic_choices(console: Console, language: str) -> list[tuple[str, str]]:
    topics = console.service.topics
    return [
        (slug, topic.name(language))
        for slug in topics.slugs
        if (topic := topics.get(slug)) is not None
    ]


@staff_page
async def compose(request: web.Request, user: StaffUser) -> web.StreamResponse:
    return await compose_page(request, user, forms.blank_form())


@staff_page
async def compose_post(request: web.Request, user: StaffUser) -> web.StreamResponse:
    """Preview (the form again with the messages and the recipients) or publish/schedule."""
    console = console_of(request)
    service = console.service
    posted = await posted_form(request)
    form = forms.form_of(posted)
    now = service.clock()
    values = forms.values_of(form, service.tz, now=now)
    fields = None
    if not form.errors:
        try:
            fields = service.announcements.check(forms.fields_of(values))
        except AnnouncementError as exc:
            forms.record_error(form, exc)
    previewed = posted.get("previewed") == form.fingerprint
    if fields is None or posted.get("action") != "publish" or not previewed:
        previews = service.previews(fields) if fields is not None else None
        return await compose_page(
            request, user, form, preview=previews, status=200 if fields else 422
        )
    try:
        announcement = await service.announcements.create(fields, actor=user.identity)
    except AnnouncementError as exc:
        forms.record_error(form, exc)
        return await compose_page(request, user, form, status=422)
    raise web.HTTPSeeOther(f"/announcements/{announcement.id}")


def announcement_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@staff_page
async def announcement_page(request: web.Request, user: StaffUser) -> web.StreamResponse:
    service = console_of(request).service
    try:
        announcement, report = await service.announcement(announcement_id(request))
    except UnknownAnnouncement:
        return render(request, "error.html", user, status=404, reason="missing")
    return render(
        request,
        "announcement.html",
        user,
        item=announcement,
        report=report,
        counts=report.publication,
        previews=service.previews(announcement.fields),
        cancellable=service.cancellable(announcement),
        editable=announcement.status is not Status.CANCELLED,
        tab="announcements",
    )


@staff_page
async def announcement_progress(request: web.Request, user: StaffUser) -> web.StreamResponse:
    """The publication's counts by state, for the page's small refreshing script."""
    service = console_of(request).service
    try:
        announcement, report = await service.announcement(announcement_id(request))
    except UnknownAnnouncement:
        raise web.HTTPNotFound() from None
    data = {"status": announcement.status.value, **report.publication.as_dict()}
    return web.json_response(data, headers={"Cache-Control": "no-store"})


@staff_page
async def edit(request: web.Request, user: StaffUser) -> web.StreamResponse:
    console = console_of(request)
    try:
        announcement = await console.service.announcements.get(announcement_id(request))
    except UnknownAnnouncement:
        return render(request, "error.html", user, status=404, reason="missing")
    form = forms.form_from(announcement, console.settings.timezone)
    return await compose_page(
        request, user, form, editing=announcement.id, published=announcement.published
    )


@staff_page
async def edit_post(request: web.Request, user: StaffUser) -> web.StreamResponse:
    """Preview the correction, or save it (with a correction notice when asked)."""
    console = console_of(request)
    service = console.service
    number = announcement_id(request)
    try:
        current = await service.announcements.get(number)
    except UnknownAnnouncement:
        return render(request, "error.html", user, status=404, reason="missing")
    posted = await posted_form(request)
    form = forms.form_of(posted)
    values = forms.values_of(
        form, service.tz, now=service.clock(), starts_at=current.fields.starts_at
    )
    if current.published:  # they cannot change after publication: not offered on the form
        for name in ("kind", "topic", "publish_at"):
            values.pop(name, None)
    changes = {
        name: value for name, value in values.items() if getattr(current.fields, name) != value
    }
    page = functools.partial(compose_page, editing=number, published=current.published)
    if form.errors:
        return await page(request, user, form, status=422)
    if posted.get("action") != "save":
        try:
            checked = service.announcements.check(current.fields.replace(**changes), set(changes))
        except AnnouncementError as exc:
            forms.record_error(form, exc)
            return await page(request, user, form, status=422)
        return await page(request, user, form, preview=service.previews(checked))
    try:
        await service.announcements.edit(
            number, changes, actor=user.identity, notify=form.values.get("notify") == "1"
        )
    except AnnouncementError as exc:
        forms.record_error(form, exc)
        return await page(request, user, form, status=422)
    raise web.HTTPSeeOther(f"/announcements/{number}")


@staff_page
async def cancel_page(request: web.Request, user: StaffUser) -> web.StreamResponse:
    service = console_of(request).service
    try:
        announcement, report = await service.announcement(announcement_id(request))
    except UnknownAnnouncement:
        return render(request, "error.html", user, status=404, reason="missing")
    return render(
        request,
        "cancel.html",
        user,
        item=announcement,
        counts=report.publication,
        cancellable=service.cancellable(announcement),
        tab="announcements",
    )


@staff_page
async def cancel_post(request: web.Request, user: StaffUser) -> web.StreamResponse:
    service = console_of(request).service
    number = announcement_id(request)
    try:
        await service.announcements.cancel(number, actor=user.identity)
    except UnknownAnnouncement:
        return render(request, "error.html", user, status=404, reason="missing")
    raise web.HTTPSeeOther(f"/announcements/{number}")


# --- questions, staff, audit ----------------------------------------------------------------


@staff_page
async def unanswered(request: web.Request, user: StaffUser) -> web.StreamResponse:
    service = console_of(request).service
    groups = await service.unanswered()
    sent = await service.sent_to_the_office(groups)
    return render(
        request,
        "unanswered.html",
        user,
        rows=list(zip(groups, sent, strict=True)),
        tab="unanswered",
    )


# The inbox's filters, as the page's `state` query names them ("all" shows every state).
INBOX_FILTERS = ("open", "answered", "closed", "all")


def inbox_filter(request: web.Request) -> str:
    state = request.query.get("state", "open")
    return state if state in INBOX_FILTERS else "open"


def question_number(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None


def settle_message(status: Settle, number: int, closing: bool) -> str:
    """What the page says after an answer or a closing (the chat commands' sentences)."""
    if status is Settle.DONE and closing:
        return _("Question #{number} is closed; the person is told.").format(number=number)
    if status is Settle.DONE:
        return _("Your answer to #{number} is on its way to the person.").format(number=number)
    if status is Settle.ANSWERED:
        return _("Question #{number} has already been answered.").format(number=number)
    if status is Settle.CLOSED:
        return _("Question #{number} has already been closed.").format(number=number)
    if status is Settle.EMPTY:
        return _("The answer is empty: write it in the box under the question.")
    return _("There is no question #{number}.").format(number=number)


def questions_off(request: web.Request, user: StaffUser) -> web.Response:
    """BOT_STAFF_CHATS is unset: the inbox is not offered (its link is hidden), and opened
    directly the page says so."""
    return render(request, "questions_off.html", user, status=404, tab="questions")


async def inbox_view(
    request: web.Request,
    user: StaffUser,
    *,
    state: str,
    message: str = "",
    problem: str = "",
    draft: tuple[int, str] | None = None,
    status: int = 200,
) -> web.Response:
    try:
        number = int(request.query.get("page", "1"))
    except ValueError:
        number = 1
    inbox = await console_of(request).service.questions(
        None if state == "all" else QuestionState(state), number
    )
    return render(
        request,
        "questions.html",
        user,
        status=status,
        items=inbox.items,
        inbox=inbox,
        state=state,
        filters=INBOX_FILTERS,
        message=message,
        problem=problem,
        draft=draft,
        tab="questions",
    )


@staff_page
async def questions(request: web.Request, user: StaffUser) -> web.StreamResponse:
    """The office's questions inbox: open ones by default, answered ones with their answer."""
    if not console_of(request).settings.questions_enabled:
        return questions_off(request, user)
    message = ""
    for done, closing in (("answered", False), ("closed", True)):
        number = request.query.get(done, "")
        if number.isdigit():
            message = settle_message(Settle.DONE, int(number), closing)
    return await inbox_view(request, user, state=inbox_filter(request), message=message)


@staff_page
async def answer_post(request: web.Request, user: StaffUser) -> web.StreamResponse:
    """Answer from the page: the same service as `answer N …` in chat, audited as the
    signed-in staff member; the answer goes through the outbox to the asking chat."""
    console = console_of(request)
    if not console.settings.questions_enabled:
        return questions_off(request, user)
    number = question_number(request)
    text = (await posted_form(request)).get("answer", "")
    status, _question = await console.questions.answer(
        number, text, user.identity, user.identity, console.service.clock()
    )
    if status is Settle.DONE:
        raise web.HTTPSeeOther(f"/questions?state=answered&answered={number}#q{number}")
    return await inbox_view(
        request,
        user,
        state="open",
        problem=settle_message(status, number, closing=False),
        draft=(number, text) if status is Settle.EMPTY else None,
        status=404 if status is Settle.MISSING else 422 if status is Settle.EMPTY else 409,
    )


@staff_page
async def close_page(request: web.Request, user: StaffUser) -> web.StreamResponse:
    """Closing without an answer asks first: the person will be told it was closed."""
    console = console_of(request)
    if not console.settings.questions_enabled:
        return questions_off(request, user)
    item = await console.service.question(question_number(request))
    if item is None:
        return render(request, "error.html", user, status=404, reason="no question")
    return render(request, "question_close.html", user, item=item, tab="questions")


@staff_page
async def close_post(request: web.Request, user: StaffUser) -> web.StreamResponse:
    """Close from the page: the same service as `close N` in chat, audited likewise."""
    console = console_of(request)
    if not console.settings.questions_enabled:
        return questions_off(request, user)
    number = question_number(request)
    status, _question = await console.questions.close(
        number, user.identity, user.identity, console.service.clock()
    )
    if status is Settle.DONE:
        raise web.HTTPSeeOther(f"/questions?state=closed&closed={number}#q{number}")
    return await inbox_view(
        request,
        user,
        state="open",
        problem=settle_message(status, number, closing=True),
        status=404 if status is Settle.MISSING else 409,
    )


async def staff_view(
    request: web.Request, user: StaffUser, *, error: str = "", status: int = 200
) -> web.Response:
    console = console_of(request)
    return render(
        request,
        "staff.html",
        user,
        status=status,
        admins=sorted(console.settings.admins),
        members=await console.service.staff(),
        error=error,
        tab="staff",
    )


@admin_page
async def staff(request: web.Request, user: StaffUser) -> web.StreamResponse:
    return await staff_view(request, user)


@admin_page
async def staff_post(request: web.Request, user: StaffUser) -> web.StreamResponse:
    console = console_of(request)
    posted = await posted_form(request)
    identity = posted.get("identity", "").strip()
    change = add_staff if posted.get("action") == "add" else remove_staff
    try:
        await change(
            console.service.storage,
            console.settings,
            identity,
            actor=user.identity,
            changed=console.staff_changed,
        )
    except StaffChangeError as exc:
        return await staff_view(request, user, error=str(exc), status=422)
    raise web.HTTPSeeOther("/staff")


@admin_page
async def audit(request: web.Request, user: StaffUser) -> web.StreamResponse:
    entries = await console_of(request).service.audit_log()
    return render(request, "audit.html", user, entries=entries, tab="audit")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Console pages are never framed, cached, or sent on as a Referer."""
    response = await handler(request)
    if is_console_path(request.path):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


CONSOLE_PREFIXES = (
    "/login",
    "/logout",
    "/language",
    "/announcements",
    "/unanswered",
    "/questions",
    "/staff",
)


def is_console_path(path: str) -> bool:
    return path == "/" or path.startswith((*CONSOLE_PREFIXES, "/audit", "/console/"))
