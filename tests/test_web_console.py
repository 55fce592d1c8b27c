"""The web console over a real aiohttp server on 127.0.0.1: login links, sessions, CSRF, pages.

The server is the console's routes on an aiohttp application, the database a real SQLite
file; requests go through aiohttp's HTTP client with its cookie jar, as a browser's would.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiohttp import ClientResponse, ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from yarl import URL

from bot.config import Settings
from bot.core.service import Core
from bot.storage import Storage
from bot.web import WebDeps, build_app
from bot.weblogin import ConsoleAuth, token_hash

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

ADMIN = "console:boss"
STAFF = "telegram:555"


@dataclass
class Console:
    server: TestServer
    storage: Storage
    auth: ConsoleAuth
    base: str

    async def link(self, identity: str = ADMIN) -> str:
        return await self.auth.login_link(identity, self.base)

    async def client(self, identity: str | None = ADMIN) -> ClientSession:
        """A browser-like client; logged in as `identity` unless None."""
        session = browser_session()
        if identity is not None:
            async with await log_in(session, await self.link(identity)) as resp:
                assert resp.status == 303, await resp.text()
        return session


async def confirmation(browser: ClientSession, link: str) -> str:
    """GET a login link: its page with the "Log in" button; the form's token."""
    async with browser.get(link, allow_redirects=False) as resp:
        assert resp.status == 200, await resp.text()
        assert "Set-Cookie" in resp.headers and "ngo_console" not in resp.headers["Set-Cookie"]
        html = await resp.text()
    assert f'action="{urlsplit(link).path}"' in html
    return login_token_of(html)


async def log_in(browser: ClientSession, link: str) -> ClientResponse:
    """Open a login link and press its button, as a person does (GET, then POST)."""
    token = await confirmation(browser, link)
    return await browser.post(link, data={"csrf": token}, allow_redirects=False)


def warsaw_now() -> datetime:
    return datetime.now(ZoneInfo("Europe/Warsaw"))


def browser_session() -> ClientSession:
    """A client keeping cookies of 127.0.0.1 (aiohttp's jar skips IP hosts by default)."""
    return ClientSession(cookie_jar=CookieJar(unsafe=True))


CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
LOGIN_TOKEN = re.compile(r'name="csrf" value="([A-Za-z0-9_-]{43})"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def login_token_of(html: str) -> str:
    match = LOGIN_TOKEN.search(html)
    assert match, "the page has no login form"
    return match.group(1)


@pytest.fixture
async def console(core: Core, storage: Storage, settings: Settings) -> AsyncIterator[Console]:
    """The web application of `ngo-bot run` (build_app: public and console routes)."""
    server = TestServer(build_app(WebDeps.for_core(core)), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    yield Console(server, storage, ConsoleAuth(storage, settings), base)
    await server.close()


async def add_chats(storage: Storage, count: int, topic: str = "grants", lang: str = "pl") -> None:
    from bot.core.messages import ChatKind, ChatRef

    for n in range(count):
        chat = await storage.chats.ensure(ChatRef("console", f"{lang}{n}"), ChatKind.PRIVATE, lang)
        await storage.chats.subscribe(chat.id, [topic])


# --- login ------------------------------------------------------------------------------------


async def test_a_login_link_starts_a_session_once(console: Console) -> None:
    link = await console.link()
    async with browser_session() as browser:
        async with browser.get(link, allow_redirects=False) as resp:
            assert resp.status == 200
            html = await resp.text()
            assert "console:boss" in html and 'method="post"' in html
            form_cookie = resp.headers["Set-Cookie"]
            assert form_cookie.startswith("ngo_login=")
            assert "HttpOnly" in form_cookie and "SameSite=Strict" in form_cookie
            assert "Path=/login/" in form_cookie and "Max-Age=900" in form_cookie
            assert resp.headers["Referrer-Policy"] == "no-referrer"
            assert resp.headers["X-Frame-Options"] == "DENY"
        async with browser.post(
            link, data={"csrf": login_token_of(html)}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] == "/"
            cookie = resp.cookies["ngo_console"]
            assert cookie["httponly"] and cookie["samesite"] == "Lax"
            assert not cookie["secure"]  # http: a Secure cookie would never come back
            assert resp.cookies["ngo_login"].value == ""  # the form's cookie is dropped
            assert resp.headers["Referrer-Policy"] == "no-referrer"
        async with browser.get(console.base + "/") as resp:
            assert resp.status == 200
            assert "Dashboard" in await resp.text() or "Pulpit" in await resp.text()
        # The same browser, the same link again: refused, the session unchanged.
        async with browser.get(link, allow_redirects=False) as resp:
            assert resp.status == 403
            assert "nieważny" in await resp.text()
            assert "Set-Cookie" not in resp.headers
    async with browser_session() as other, other.get(link, allow_redirects=False) as resp:
        assert resp.status == 403
        assert "no longer valid" in await resp.text() or "nieważny" in await resp.text()
        assert "Set-Cookie" not in resp.headers
    assert len(await console.storage.db.fetch_all("SELECT * FROM web_sessions")) == 1


async def test_opening_the_link_twice_does_not_use_it(console: Console) -> None:
    link = await console.link()
    async with browser_session() as browser:
        first = await confirmation(browser, link)
        second = await confirmation(browser, link)
        assert first == second  # the browser keeps its form token: both open pages work
        async with browser.post(link, data={"csrf": first}, allow_redirects=False) as resp:
            assert resp.status == 303
    async with browser_session() as other:
        assert await confirmation(other, await console.link()) != first  # a new browser: new


async def test_the_confirmation_page_speaks_the_persons_language(
    console: Console, storage: Storage
) -> None:
    from bot.core.messages import ChatKind, ChatRef

    await storage.staff.add(STAFF, "staff", ADMIN)
    await storage.chats.ensure(ChatRef("telegram", "555"), ChatKind.PRIVATE, "uk")
    async with browser_session() as browser, browser.get(await console.link(STAFF)) as resp:
        html = await resp.text()
    assert '<html lang="uk">' in html
    assert "Ви увійдете як telegram:555." in html and "Увійти до консолі" in html


@pytest.mark.parametrize("cookie", [None, "wrong", "A" * 43])
async def test_a_login_post_without_the_form_cookie_is_refused(
    console: Console, cookie: str | None
) -> None:
    link = await console.link()
    async with browser_session() as browser:
        token = await confirmation(browser, link)
        browser.cookie_jar.clear()
        if cookie is not None:
            browser.cookie_jar.update_cookies({"ngo_login": cookie}, URL(link))
        async with browser.post(link, data={"csrf": token}, allow_redirects=False) as resp:
            assert resp.status == 403
            html = await resp.text()
            assert "nie pasuje do pliku cookie" in html
            assert "ngo_console" not in resp.headers.get("Set-Cookie", "")
            assert resp.headers["Referrer-Policy"] == "no-referrer"
        # The page offers the button again, with a fresh cookie: the link still works.
        async with browser.post(
            link, data={"csrf": login_token_of(html)}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
    assert await console.storage.staff.audit_log(ADMIN) != []


async def test_a_login_post_with_a_wrong_or_missing_form_field_is_refused(
    console: Console,
) -> None:
    link = await console.link()
    async with browser_session() as browser:
        await confirmation(browser, link)
        for data in ({}, {"csrf": ""}, {"csrf": "A" * 43}, {"csrf": "ż" * 43}):
            async with browser.post(link, data=data, allow_redirects=False) as resp:
                assert resp.status == 403, data
                assert "ngo_console" not in resp.headers.get("Set-Cookie", "")
        assert await console.storage.db.fetch_all("SELECT * FROM web_sessions") == []
        async with await log_in(browser, link) as resp:
            assert resp.status == 303


async def test_a_link_is_used_by_one_post_only(console: Console) -> None:
    link = await console.link()
    async with browser_session() as browser:
        token = await confirmation(browser, link)
        async with browser.post(link, data={"csrf": token}, allow_redirects=False) as resp:
            assert resp.status == 303
        browser.cookie_jar.update_cookies({"ngo_login": token}, URL(link))
        async with browser.post(link, data={"csrf": token}, allow_redirects=False) as resp:
            assert resp.status == 403
            assert "nieważny" in await resp.text()
            assert "Set-Cookie" not in resp.headers
    assert len(await console.storage.db.fetch_all("SELECT * FROM web_sessions")) == 1


async def test_link_previews_do_not_use_the_link(console: Console) -> None:
    link = await console.link()
    async with browser_session() as robot:
        async with robot.head(link, allow_redirects=False) as resp:
            assert resp.status == 200 and "Set-Cookie" not in resp.headers
        for agent in ("TelegramBot (like TwitterBot)", "Synapse (bot; +https://matrix.org)"):
            async with robot.get(
                link, headers={"User-Agent": agent}, allow_redirects=False
            ) as resp:
                assert resp.status == 200 and "Set-Cookie" not in resp.headers
                assert "/web" in await resp.text()  # the help page, not the button
        # A scanner that follows the link like a browser gets the button's page, no session.
        scanner = {"User-Agent": "Mozilla/5.0 (compatible; MailScanner)"}
        async with robot.get(link, headers=scanner, allow_redirects=False) as resp:
            assert resp.status == 200 and "ngo_console" not in resp.headers["Set-Cookie"]
    assert await console.storage.db.fetch_all("SELECT * FROM web_sessions") == []
    async with browser_session() as person, await log_in(person, link) as resp:
        assert resp.status == 303  # still unused: the person's browser logs in


async def test_an_expired_link_starts_nothing(console: Console) -> None:
    link = await console.link()
    async with browser_session() as browser:
        token = await confirmation(browser, link)
        with time_machine.travel(timedelta(minutes=15, seconds=1), tick=False):
            async with browser.get(link, allow_redirects=False) as resp:
                assert resp.status == 403
                assert "nieważny" in await resp.text()
                assert "Set-Cookie" not in resp.headers
            async with browser.post(link, data={"csrf": token}, allow_redirects=False) as resp:
                assert resp.status == 403
                assert "Set-Cookie" not in resp.headers
    assert await console.storage.db.fetch_all("SELECT * FROM web_sessions") == []


async def test_a_link_of_someone_no_longer_staff_shows_no_button(
    console: Console, storage: Storage
) -> None:
    await storage.staff.add(STAFF, "staff", ADMIN)
    link = await console.link(STAFF)
    await storage.staff.remove(STAFF)
    async with browser_session() as browser, browser.get(link, allow_redirects=False) as resp:
        assert resp.status == 403 and "Set-Cookie" not in resp.headers


async def test_an_unknown_link_shows_the_help_page(console: Console) -> None:
    async with browser_session() as browser:
        for token in ("nope", "A" * 43, "%3Cscript%3E"):
            async with browser.get(console.base + "/login/" + token) as resp:
                assert resp.status == 403
                assert "<script>" not in await resp.text()
            async with browser.post(console.base + "/login/" + token, data={}) as resp:
                assert resp.status == 403


async def test_tokens_are_stored_only_hashed(console: Console, storage: Storage) -> None:
    link = await console.link()
    token = link.rsplit("/", 1)[1]
    rows = await storage.db.fetch_all("SELECT token_hash FROM web_login_links")
    assert [r["token_hash"] for r in rows] == [token_hash(token)]
    async with browser_session() as browser, await log_in(browser, link) as resp:
        session_token = resp.cookies["ngo_console"].value
    stored = await storage.db.fetch_all("SELECT token_hash FROM web_sessions")
    assert [r["token_hash"] for r in stored] == [token_hash(session_token)]
    dump = "\n".join(storage.db.path.read_bytes().decode("latin-1").split("\0"))
    assert token not in dump and session_token not in dump


async def test_no_link_for_someone_who_is_not_staff(console: Console) -> None:
    from bot.weblogin import NotStaff

    with pytest.raises(NotStaff):
        await console.link("telegram:999")


async def test_pages_need_a_session(console: Console) -> None:
    async with browser_session() as anonymous:
        for path in ("/", "/announcements", "/announcements/new", "/unanswered", "/staff"):
            async with anonymous.get(console.base + path, allow_redirects=False) as resp:
                assert resp.status == 303, path
                assert resp.headers["Location"] == "/login"
        async with anonymous.post(
            console.base + "/announcements/new", data={"title_pl": "x"}, allow_redirects=False
        ) as resp:
            assert resp.status == 401
        async with anonymous.get(console.base + "/login") as resp:
            assert resp.status == 200
            assert "/web" in await resp.text()


async def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    browser = await console.client()
    async with browser:
        form = {"kind": "news", "title_pl": "Tytuł", "text_pl": "Tekst", "action": "publish"}
        async with browser.post(console.base + "/announcements/new", data=form) as resp:
            assert resp.status == 403
        async with browser.post(
            console.base + "/announcements/new", data={**form, "csrf": "0" * 64}
        ) as resp:
            assert resp.status == 403
        async with browser.post(console.base + "/logout", data={}) as resp:
            assert resp.status == 403
    assert await console.storage.announcements.recent() == []


async def test_logout_ends_the_session(console: Console) -> None:
    browser = await console.client()
    async with browser:
        async with browser.get(console.base + "/") as resp:
            token = csrf_of(await resp.text())
        async with browser.post(
            console.base + "/logout", data={"csrf": token}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
        async with browser.get(console.base + "/", allow_redirects=False) as resp:
            assert resp.status == 303
    assert await console.storage.db.fetch_all("SELECT * FROM web_sessions") == []


async def test_twelve_idle_hours_end_a_session(console: Console) -> None:
    browser = await console.client()
    async with browser:
        with time_machine.travel(timedelta(hours=11, minutes=59), tick=False):
            async with browser.get(console.base + "/", allow_redirects=False) as resp:
                assert resp.status == 200  # used: the 12 hours start again
        with time_machine.travel(timedelta(hours=23, minutes=58), tick=False):
            async with browser.get(console.base + "/", allow_redirects=False) as resp:
                assert resp.status == 200
        with time_machine.travel(timedelta(hours=36), tick=False):
            async with browser.get(console.base + "/", allow_redirects=False) as resp:
                assert resp.status == 303


async def test_a_removed_staff_member_is_logged_out_at_once(
    console: Console, storage: Storage
) -> None:
    await storage.staff.add(STAFF, "staff", ADMIN)
    browser = await console.client(STAFF)
    async with browser:
        async with browser.get(console.base + "/") as resp:
            assert resp.status == 200
        await storage.staff.remove(STAFF)  # e.g. `staff remove` in chat
        async with browser.get(console.base + "/", allow_redirects=False) as resp:
            assert resp.status == 303
    assert await storage.db.fetch_all("SELECT * FROM web_sessions") == []


async def test_staff_pages_are_for_admins_only(console: Console, storage: Storage) -> None:
    await storage.staff.add(STAFF, "staff", ADMIN)
    browser = await console.client(STAFF)
    async with browser:
        for path in ("/staff", "/audit"):
            async with browser.get(console.base + path) as resp:
                assert resp.status == 403, path


# --- announcements ----------------------------------------------------------------------------


PREVIEWED = re.compile(r'name="previewed" value="([0-9a-f]+)"')


async def compose(browser: ClientSession, base: str, **fields: str) -> tuple[int, str]:
    """Fill the form; to publish, preview first and publish what the preview showed."""
    async with browser.get(base + "/announcements/new") as resp:
        token = csrf_of(await resp.text())
    data = {"csrf": token, **fields}
    if fields.get("action") == "publish":
        async with browser.post(
            base + "/announcements/new", data={**data, "action": "preview"}
        ) as resp:
            match = PREVIEWED.search(await resp.text())
        if match:
            data["previewed"] = match.group(1)
    async with browser.post(base + "/announcements/new", data=data, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location", "") or await resp.text()


async def test_preview_shows_each_language_and_the_recipients(
    console: Console, storage: Storage
) -> None:
    await add_chats(storage, 3, "grants")
    browser = await console.client()
    async with browser:
        status, html = await compose(
            browser,
            console.base,
            kind="grant-deadline",
            title_pl="Konkurs <2027>",
            text_pl="Oferty do końca kwietnia.",
            title_uk="Конкурс 2027",
            text_uk="Пропозиції до кінця квітня.",
            deadline=(warsaw_now() + timedelta(days=45)).strftime("%d.%m.%Y"),
            action="preview",
        )
    assert status == 200
    assert "Konkurs &lt;2027&gt;" in html  # escaped once, as Telegram gets it
    assert "Конкурс 2027" in html
    assert 'data-preview="pl-telegram"' in html and 'data-preview="uk-matrix"' in html
    assert "/unsubscribe grants" in html and "!unsubscribe grants" in html
    assert "Dotrze do 3 czatów" in html  # the admin's chat language: BOT_DEFAULT_LANGUAGE
    assert await storage.announcements.recent() == []  # a preview publishes nothing


async def test_publishing_from_the_page_goes_through_the_service(
    console: Console, storage: Storage
) -> None:
    await add_chats(storage, 2, "news")
    browser = await console.client()
    async with browser:
        status, location = await compose(
            browser,
            console.base,
            kind="news",
            title_pl="Nowość",
            text_pl="Treść",
            action="publish",
        )
        assert status == 303
        assert location == "/announcements/1"
        async with browser.get(console.base + location) as resp:
            page = await resp.text()
        async with browser.get(console.base + location + "/progress") as resp:
            progress = await resp.json()
    announcement = (await storage.announcements.recent())[0]
    assert announcement.author == ADMIN
    assert "Nowość" in page
    assert progress["total"] == 2 and progress["pending"] == 2
    audit = await storage.staff.audit_log(ADMIN)
    assert [e.action for e in audit][:2] == ["announce publish", "web login"]


async def test_publish_needs_the_values_the_preview_showed(
    console: Console, storage: Storage
) -> None:
    browser = await console.client()
    async with browser:
        async with browser.get(console.base + "/announcements/new") as resp:
            token = csrf_of(await resp.text())
        form = {"csrf": token, "kind": "news", "title_pl": "Tytuł", "text_pl": "Tekst"}
        async with browser.post(
            console.base + "/announcements/new", data={**form, "action": "preview"}
        ) as resp:
            previewed = PREVIEWED.search(await resp.text())
        assert previewed is not None
        changed = {**form, "text_pl": "Inny tekst", "previewed": previewed.group(1)}
        async with browser.post(
            console.base + "/announcements/new", data={**changed, "action": "publish"}
        ) as resp:
            assert resp.status == 200
            assert "Inny tekst" in await resp.text()  # the new preview, nothing published
    assert await storage.announcements.recent() == []


async def test_a_bad_field_is_shown_next_to_it(console: Console) -> None:
    browser = await console.client()
    async with browser:
        status, html = await compose(
            browser,
            console.base,
            kind="grant-deadline",
            title_pl="Konkurs",
            text_pl="Tekst",
            deadline="31.02.2027",
            action="publish",
        )
    assert status == 422
    assert 'id="deadline-error"' in html
    assert "28" in html  # February 2027 has 28 days
    assert 'aria-invalid="true"' in html


async def test_scheduling_and_cancelling(console: Console, storage: Storage) -> None:
    browser = await console.client()
    async with browser:
        status, location = await compose(
            browser,
            console.base,
            kind="news",
            title_pl="Później",
            text_pl="Tekst",
            publish_at="jutro 12:00",
            action="publish",
        )
        assert status == 303
        async with browser.get(console.base + location + "/cancel") as resp:
            token = csrf_of(await resp.text())
        announcement = (await storage.announcements.recent())[0]
        assert announcement.status.value == "scheduled"
        async with browser.post(
            console.base + location + "/cancel", data={"csrf": token}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
    assert (await storage.announcements.recent())[0].status.value == "cancelled"
    assert (await storage.staff.audit_log(ADMIN))[0].action == "announce cancel"


async def test_editing_with_a_correction_notice(console: Console, storage: Storage) -> None:
    await add_chats(storage, 1, "news")
    browser = await console.client()
    async with browser:
        await compose(
            browser, console.base, kind="news", title_pl="Stary", text_pl="T", action="publish"
        )
        await storage.db.execute("UPDATE outbox SET state = 'sent'")
        async with browser.get(console.base + "/announcements/1/edit") as resp:
            html = await resp.text()
            token = csrf_of(html)
        assert 'value="Stary"' in html and 'name="notify"' in html
        async with browser.post(
            console.base + "/announcements/1/edit",
            data={
                "csrf": token,
                "kind": "news",
                "title_pl": "Nowy",
                "text_pl": "T",
                "remind": "default",
                "notify": "1",
                "action": "save",
            },
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303, await resp.text()
    assert (await storage.announcements.get(1)).fields.title_pl == "Nowy"  # type: ignore[union-attr]
    actions = [e.detail for e in await storage.staff.audit_log(ADMIN)]
    assert "#1 title_pl notified" in actions


# --- other pages ------------------------------------------------------------------------------


async def test_dashboard_counts_and_chart(console: Console, storage: Storage) -> None:
    await add_chats(storage, 2, "grants", "pl")
    await add_chats(storage, 1, "grants", "uk")
    browser = await console.client()
    async with browser, browser.get(console.base + "/") as resp:
        html = await resp.text()
    assert "<svg" in html and "<rect" in html
    assert "nowe subskrypcje: 3, zakończone: 0; teraz: 3" in html


async def test_staff_page_adds_and_removes(console: Console, storage: Storage) -> None:
    browser = await console.client()
    async with browser:
        async with browser.get(console.base + "/staff") as resp:
            token = csrf_of(await resp.text())
        async with browser.post(
            console.base + "/staff",
            data={"csrf": token, "identity": STAFF, "action": "add"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
        assert await storage.staff.get(STAFF) is not None
        async with browser.post(
            console.base + "/staff",
            data={"csrf": token, "identity": "nonsense", "action": "add"},
        ) as resp:
            assert resp.status == 422
        async with browser.post(
            console.base + "/staff",
            data={"csrf": token, "identity": STAFF, "action": "remove"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
    assert await storage.staff.get(STAFF) is None
    actions = [(e.action, e.detail) for e in await storage.staff.audit_log(ADMIN)]
    assert ("staff add", STAFF) in actions and ("staff remove", STAFF) in actions


async def test_language_switch(console: Console) -> None:
    browser = await console.client()
    async with browser:
        async with browser.get(console.base + "/") as resp:
            token = csrf_of(await resp.text())
        async with browser.post(
            console.base + "/language", data={"csrf": token, "language": "uk", "next": "/"}
        ) as resp:
            html = await resp.text()
    assert 'lang="uk"' in html
    assert "Оголошення" in html


async def test_unanswered_page(console: Console, storage: Storage) -> None:
    await storage.unanswered.record("Gdzie jest urząd?", "pl")
    await storage.unanswered.record("gdzie jest urząd", "pl")
    browser = await console.client()
    async with browser, browser.get(console.base + "/unanswered") as resp:
        html = await resp.text()
    assert "gdzie jest urząd" in html.lower()
    assert "<td>2</td>" in html


async def test_the_cookie_is_secure_behind_https(core: Core, storage: Storage) -> None:
    settings = dataclasses.replace(
        core.settings, web_listen=("127.0.0.1", 0), web_url="https://bot.example.org"
    )
    core.settings = settings
    server = TestServer(build_app(WebDeps.for_core(core)), host="127.0.0.1")
    await server.start_server()
    try:
        link = await ConsoleAuth(storage, settings).login_link(ADMIN, "https://bot.example.org")
        assert link.startswith("https://bot.example.org/login/")
        local = str(server.make_url("/login/")) + link.rsplit("/", 1)[1]
        async with browser_session() as client:
            async with client.get(local, allow_redirects=False) as resp:
                assert resp.status == 200
                assert "Secure" in resp.headers["Set-Cookie"]
                token = login_token_of(await resp.text())
            # The client keeps a Secure cookie from http://127.0.0.1 to itself: sent by hand.
            async with client.post(
                local,
                data={"csrf": token},
                headers={"Cookie": f"ngo_login={token}"},
                allow_redirects=False,
            ) as resp:
                assert resp.status == 303
                assert resp.cookies["ngo_console"]["secure"]
                assert resp.headers["Referrer-Policy"] == "no-referrer"
    finally:
        await server.close()


def test_going_back_stays_on_the_site() -> None:
    from bot.web.console.pages import local_path

    assert local_path("/announcements?page=2") == "/announcements?page=2"
    for away in ("https://evil.example/", "//evil.example", "/\\evil.example", "evil", ""):
        assert local_path(away) == "/"


async def test_a_monthly_meeting_with_chosen_reminders(console: Console, storage: Storage) -> None:
    start = (warsaw_now() + timedelta(days=20)).replace(hour=18, minute=0, second=0, microsecond=0)
    browser = await console.client()
    async with browser:
        status, location = await compose(
            browser,
            console.base,
            kind="meeting",
            title_pl="Spotkajmy się w 3. miejscu",
            text_pl="Zapraszamy.",
            starts_at=start.strftime("%d.%m.%Y %H:%M"),
            ends_at="20:00",
            location="ul. Dekerta 24",
            repeat="monthly-weekday",
            remind="1d@09:00",
            action="publish",
        )
        assert status == 303, location
    fields = (await storage.announcements.recent())[0].fields
    nth = (start.day - 1) // 7 + 1
    assert fields.repeat is not None and fields.repeat.startswith("FREQ=MONTHLY;BYDAY=")
    assert fields.repeat.endswith(("MO", "TU", "WE", "TH", "FR", "SA", "SU"))
    assert str(nth if nth < 5 else -1) in fields.repeat
    assert fields.remind == "1d@09:00"
    assert fields.starts_at is not None and fields.ends_at is not None
    assert fields.ends_at - fields.starts_at == timedelta(hours=2)
    assert fields.location == "ul. Dekerta 24"


async def test_a_scheduled_announcement_can_change_kind(console: Console, storage: Storage) -> None:
    browser = await console.client()
    async with browser:
        await compose(
            browser,
            console.base,
            kind="news",
            title_pl="Wkrótce",
            text_pl="T",
            publish_at="jutro 12:00",
            action="publish",
        )
        async with browser.get(console.base + "/announcements/1/edit") as resp:
            html = await resp.text()
        assert 'id="kind"' in html and 'name="publish_at"' in html
        form = {
            "csrf": csrf_of(html),
            "kind": "grant-deadline",
            "title_pl": "Wkrótce",
            "text_pl": "T",
            "deadline": "za tydzień",
            "publish_at": "jutro 12:00",
            "remind": "default",
            "action": "save",
        }
        async with browser.post(console.base + "/announcements/1/edit", data=form) as resp:
            assert resp.status == 422  # 'za tydzień' is no date: said next to the field
            assert 'id="deadline-error"' in await resp.text()
        tomorrow = (warsaw_now() + timedelta(days=30)).strftime("%d.%m.%Y")
        async with browser.post(
            console.base + "/announcements/1/edit",
            data={**form, "deadline": tomorrow},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303, await resp.text()
    fields = (await storage.announcements.get(1)).fields  # type: ignore[union-attr]
    assert fields.kind.value == "grant-deadline" and fields.topic == "grants"
    assert fields.remind == "14d@09:00,3d@09:00,1d@09:00"
