"""The office's questions inbox in the web console, over a real aiohttp server on 127.0.0.1
and a real SQLite file: the list, answering and closing from the page through the same
QuestionService as `answer N …` / `close N` in chat, CSRF, sessions, and the feature off."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.clock import utcnow
from bot.config import Settings
from bot.core.messages import ChatKind, ChatRef
from bot.core.service import Core
from bot.questions.service import QuestionService
from bot.storage import Storage
from bot.storage.questions import QuestionState
from bot.web import WebDeps, build_app
from bot.weblogin import ConsoleAuth, NotStaff
from tests.test_questions_core import delivered
from tests.test_web_console import ADMIN, STAFF, Console, browser_session, csrf_of

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

OFFICE = ChatRef("console", "office")
OLENA = ChatRef("console", "olena")
QUESTION = "Чи можна отримати компенсацію за оренду приміщення для гуртка вишивки?"
ANSWER = "Так, до 2 000 зł на рік: заяву подають через портал."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db_path=tmp_path / "bot.sqlite3",
        admins=frozenset({ADMIN}),
        quiet_hours=None,
        staff_chats=(str(OFFICE),),
    )


async def serve(core: Core, storage: Storage) -> tuple[TestServer, Console]:
    server = TestServer(build_app(WebDeps.for_core(core)), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    return server, Console(server, storage, ConsoleAuth(storage, core.settings), base)


@pytest.fixture
async def console(core: Core, storage: Storage) -> AsyncIterator[Console]:
    server, console = await serve(core, storage)
    yield console
    await server.close()


async def ask(
    storage: Storage, settings: Settings, text: str = QUESTION, unanswered_id: int | None = None
) -> int:
    """A resident's question filed as the chat's `ask` (or the abstention's button) files it."""
    chat = await storage.chats.ensure(OLENA, ChatKind.PRIVATE, "uk")
    result = await QuestionService(storage, settings).file(
        chat, text, "uk", utcnow(), unanswered_id=unanswered_id
    )
    assert result.number is not None
    return result.number


async def page(console: Console, browser: ClientSession, path: str) -> str:
    async with browser.get(console.base + path) as resp:
        assert resp.status == 200, path
        return await resp.text()


async def test_the_inbox_lists_the_open_questions(
    console: Console, storage: Storage, settings: Settings
) -> None:
    first = await ask(storage, settings)
    second = await ask(storage, settings, "<b>Де</b> подати заяву?")
    await storage.staff.add(STAFF, "staff", ADMIN)
    async with await console.client(STAFF) as browser:
        dashboard = await page(console, browser, "/")
        html = await page(console, browser, "/questions")
        answered = await page(console, browser, "/questions?state=answered")
        everything = await page(console, browser, "/questions?state=all")
    assert 'href="/questions"' in dashboard  # next to the unanswered page in the menu
    assert dashboard.index('href="/unanswered"') < dashboard.index('href="/questions"')
    assert f'id="q{first}"' in html and f'id="q{second}"' in html
    assert html.index(f'id="q{first}"') < html.index(f'id="q{second}"')  # oldest first
    assert QUESTION in html and "ukraiński" in html and "console" in html  # the staff's Polish
    assert "&lt;b&gt;Де&lt;/b&gt;" in html and "<b>Де</b>" not in html  # escaped
    assert html.count('name="answer"') == 2 and f'/questions/{first}/close"' in html
    assert QUESTION not in answered and QUESTION in everything


async def test_answering_from_the_page_reaches_the_asking_chat(
    console: Console, core: Core, storage: Storage, settings: Settings
) -> None:
    number = await ask(storage, settings)
    await delivered(core, storage, OFFICE)  # the question's post in the staff chat
    await storage.staff.add(STAFF, "staff", ADMIN)
    async with await console.client(STAFF) as browser:
        token = csrf_of(await page(console, browser, "/questions"))
        async with browser.post(
            console.base + f"/questions/{number}/answer",
            data={"csrf": token, "answer": ANSWER},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
            location = resp.headers["Location"]
        assert location.startswith("/questions?state=answered")
        shown = await page(console, browser, location)
        still_open = await page(console, browser, "/questions")
    question = await storage.questions.get(number)
    assert question is not None and question.state is QuestionState.ANSWERED
    assert question.answer == ANSWER and question.answered_by == STAFF
    assert QUESTION in shown and ANSWER in shown and STAFF in shown  # side by side
    assert f"#{number}" in shown and 'role="status"' in shown
    assert QUESTION not in still_open
    (reply,) = await delivered(core, storage, OLENA)  # through the outbox, in Ukrainian
    assert ANSWER in reply and f"#{number}" in reply and "офіс" in reply.lower()
    notes = await delivered(core, storage, OFFICE)
    assert any(f"#{number}" in note and STAFF in note for note in notes)
    log = await storage.staff.audit_log(STAFF)
    assert [(e.action, e.detail) for e in log][:1] == [("question answered", f"#{number}")]


async def test_closing_asks_first_and_tells_the_person(
    console: Console, core: Core, storage: Storage, settings: Settings
) -> None:
    number = await ask(storage, settings)
    async with await console.client() as browser:
        confirm = await page(console, browser, f"/questions/{number}/close")
        assert QUESTION in confirm and f'action="/questions/{number}/close"' in confirm
        still = await storage.questions.get(number)
        assert still is not None and still.state is QuestionState.OPEN  # asking closes nothing
        async with browser.post(
            console.base + f"/questions/{number}/close",
            data={"csrf": csrf_of(confirm)},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
        closed = await page(console, browser, "/questions?state=closed")
        again = await page(console, browser, f"/questions/{number}/close")
        async with browser.post(
            console.base + f"/questions/{number}/answer",
            data={"csrf": csrf_of(closed), "answer": "Za późno"},
        ) as resp:
            assert resp.status == 409
            assert "zamknięte" in await resp.text()
    question = await storage.questions.get(number)
    assert question is not None and question.state is QuestionState.CLOSED
    assert QUESTION in closed and ADMIN in closed and 'name="answer"' not in closed
    assert "Yes, close" not in again and "Tak, zamknij" not in again  # not offered twice
    (told,) = await delivered(core, storage, OLENA)
    assert f"#{number}" in told and "/faq contact" in told
    log = await storage.staff.audit_log(ADMIN)
    assert [(e.action, e.detail) for e in log][:1] == [("question closed", f"#{number}")]


async def test_an_empty_answer_and_a_missing_question(
    console: Console, storage: Storage, settings: Settings
) -> None:
    number = await ask(storage, settings)
    async with await console.client() as browser:
        token = csrf_of(await page(console, browser, "/questions"))
        async with browser.post(
            console.base + f"/questions/{number}/answer", data={"csrf": token, "answer": "  \n"}
        ) as resp:
            assert resp.status == 422
            assert 'role="alert"' in await resp.text()
        async with browser.post(
            console.base + "/questions/99/answer", data={"csrf": token, "answer": "Tak"}
        ) as resp:
            assert resp.status == 404 and "#99" in await resp.text()
        async with browser.get(console.base + "/questions/99/close") as resp:
            assert resp.status == 404
        async with browser.get(console.base + "/questions/x/close") as resp:
            assert resp.status == 404
    question = await storage.questions.get(number)
    assert question is not None and question.state is QuestionState.OPEN


async def test_a_post_without_the_csrf_token_is_refused(
    console: Console, storage: Storage, settings: Settings
) -> None:
    number = await ask(storage, settings)
    async with await console.client() as browser:
        for form in ({"answer": ANSWER}, {"answer": ANSWER, "csrf": "0" * 64}):
            async with browser.post(console.base + f"/questions/{number}/answer", data=form) as r:
                assert r.status == 403
        async with browser.post(console.base + f"/questions/{number}/close", data={}) as resp:
            assert resp.status == 403
    question = await storage.questions.get(number)
    assert question is not None and question.state is QuestionState.OPEN
    assert [e.action for e in await storage.staff.audit_log(ADMIN)] == ["web login"]


async def test_no_session_and_no_staff_no_inbox(
    console: Console, storage: Storage, settings: Settings
) -> None:
    number = await ask(storage, settings)
    async with browser_session() as anonymous:
        async with anonymous.get(console.base + "/questions", allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/login"
        async with anonymous.post(
            console.base + f"/questions/{number}/answer", data={"answer": ANSWER}
        ) as resp:
            assert resp.status == 401
    with pytest.raises(NotStaff):  # someone who is not staff gets no link at all
        await console.link("telegram:999")
    await storage.staff.add(STAFF, "staff", ADMIN)
    async with await console.client(STAFF) as browser:
        token = csrf_of(await page(console, browser, "/questions"))
        await storage.staff.remove(STAFF)  # e.g. `staff remove` in chat, page still open
        async with browser.post(
            console.base + f"/questions/{number}/answer", data={"csrf": token, "answer": ANSWER}
        ) as resp:
            assert resp.status == 401
    question = await storage.questions.get(number)
    assert question is not None and question.state is QuestionState.OPEN


async def test_with_the_feature_off_nothing_is_offered(core: Core, storage: Storage) -> None:
    core.settings = dataclasses.replace(core.settings, staff_chats=())
    server, console = await serve(core, storage)
    try:
        async with await console.client() as browser:
            dashboard = await page(console, browser, "/")
            async with browser.get(console.base + "/questions") as resp:
                assert resp.status == 404
                off = await resp.text()
            async with browser.post(
                console.base + "/questions/1/answer",
                data={"csrf": csrf_of(dashboard), "answer": ANSWER},
            ) as resp:
                assert resp.status == 404
    finally:
        await server.close()
    assert 'href="/questions"' not in dashboard and 'href="/unanswered"' in dashboard
    assert "BOT_STAFF_CHATS" in off and 'name="answer"' not in off


async def test_the_unanswered_page_links_the_lines_sent_to_the_office(
    console: Console, storage: Storage, settings: Settings
) -> None:
    line = await storage.unanswered.record(QUESTION, "uk")
    await storage.unanswered.record("Gdzie jest urząd?", "pl")
    number = await ask(storage, settings, unanswered_id=line)
    async with await console.client() as browser:
        html = await page(console, browser, "/unanswered")
    rows = html.split("<tr>")[2:]  # the table's rows after its header
    (sent,) = [row for row in rows if QUESTION in row]
    (other,) = [row for row in rows if "urząd" in row]
    assert f'href="/questions?state=all#q{number}">#{number}</a>' in sent
    assert "/questions?" not in other


async def test_twenty_questions_a_page(
    console: Console, storage: Storage, settings: Settings
) -> None:
    service = QuestionService(storage, settings)
    for n in range(25):
        chat = await storage.chats.ensure(ChatRef("console", f"r{n}"), ChatKind.PRIVATE, "pl")
        await service.file(chat, f"Pytanie {n:02}?", "pl", utcnow())
    async with await console.client() as browser:
        first = await page(console, browser, "/questions")
        second = await page(console, browser, "/questions?state=open&page=2")
        beyond = await page(console, browser, "/questions?page=x")
    assert first.count('name="answer"') == 20 and "Pytanie 00?" in first
    assert second.count('name="answer"') == 5 and "Pytanie 24?" in second
    assert 'rel="next"' in first and 'rel="prev"' in second and 'rel="next"' not in second
    assert "Pytanie 00?" in beyond and "Pytanie 24?" not in beyond
