"""The web console in a real headless browser (Debian's Chromium through Selenium) against the
real `ngo-bot run` (web server and console chats, no chat network).

A staff member logs in through a link from `ngo-bot web login`, writes an announcement in Polish
and Ukrainian, sees the preview and the number of recipients, publishes it and watches the
delivery count reach the total, then cancels a scheduled one; the link does not work twice,
and a POST without the CSRF token is refused. Each page is saved as a screenshot (into
NGO_SCREENSHOTS_DIR, e.g. docs/screenshots, else the test's temporary folder).

Chromium missing is a failure, never a skip: CI installs it (.ci/run).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.clock import utcnow
from bot.config import Settings
from bot.core.messages import ChatKind, ChatRef
from bot.questions.service import QuestionService
from bot.storage import Storage
from tests.conftest import BOT_COMMAND, bot_env
from tests.test_telegram_run import BotProcess
from tests.web_helpers import WebBot

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ADMIN = "console:boss"
STAFF_CHAT = "console:office"
QUESTION = "Чи можна отримати компенсацію за оренду приміщення для гуртка вишивки?"
WARSAW = ZoneInfo("Europe/Warsaw")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


def require_chromium() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"the browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} "
            "missing): apt-get install -y chromium chromium-driver"
        )


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    profile = tmp_path / "chromium-profile"
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("NGO_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def prepare_database(db_path: Path) -> None:
    """Readers in console chats: 3 Polish and 2 Ukrainian on grants, 1 English on news."""
    storage = await Storage.open(db_path)
    try:
        for name, language, topic in (
            ("ala", "pl", "grants"),
            ("jan", "pl", "grants"),
            ("ewa", "pl", "grants"),
            ("olena", "uk", "grants"),
            ("taras", "uk", "grants"),
            ("kate", "en", "news"),
        ):
            chat = await storage.chats.ensure(ChatRef("console", name), ChatKind.PRIVATE, language)
            await storage.chats.subscribe(chat.id, [topic])
        await storage.unanswered.record("Czy mogę złożyć ofertę po terminie?", "pl")
        await storage.unanswered.record("Чи можна подати заявку англійською?", "uk")
        await storage.staff.add("telegram:4242", "staff", ADMIN)
        await ask_the_office(storage, db_path)
    finally:
        await storage.close()


async def ask_the_office(storage: Storage, db_path: Path) -> None:
    """Two residents' questions for the office, filed as `ask` files them."""
    service = QuestionService(storage, Settings(db_path=db_path, staff_chats=(STAFF_CHAT,)))
    olena = await storage.chats.get(ChatRef("console", "olena"))
    jan = await storage.chats.get(ChatRef("console", "jan"))
    assert olena is not None and jan is not None
    await service.file(olena, QUESTION, "uk", utcnow())
    await service.file(jan, "Czy stowarzyszenie zwykłe może złożyć ofertę?", "pl", utcnow())


def login_link(web: WebBot, tmp_path: Path, env: dict[str, str]) -> str:
    """`ngo-bot web login console:boss --json`, as the operator would run it."""
    result = subprocess.run(
        [*BOT_COMMAND, "web", "login", ADMIN, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=bot_env(web.bot.db_path, BOT_WEB_LISTEN=f"127.0.0.1:{web.port}", **env),
        check=True,
    )
    url: str = json.loads(result.stdout.strip().splitlines()[-1])["url"]
    assert url.startswith(web.base + "/login/")
    return url


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def is_stale(element: Any) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.tag_name  # noqa: B018 - any access tells whether it still exists
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        # ChromeDriver's other word for a stale element, seen while the next page replaces it.
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


def local(days: int, hour: int) -> str:
    """A local time `days` from the tests' clock, as staff type it (30.04.2027 18:00)."""
    moment = datetime.now(WARSAW) + timedelta(days=days)
    return moment.replace(hour=hour, minute=0).strftime("%d.%m.%Y %H:%M")


def test_publish_and_cancel_in_a_browser(
    browser: Any, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    env = {"BOT_ADMINS": ADMIN, "BOT_STAFF_CHATS": STAFF_CHAT}
    web = WebBot(tmp_path, env)
    run_bot.append(web.bot)
    web.wait_until_up()
    asyncio.run(prepare_database(web.bot.db_path))
    shots = screenshots_dir(tmp_path)

    def shot(name: str) -> None:
        """The whole page, not only the window: the window is made as tall as the page."""
        loaded()
        size = browser.get_window_size()
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(size["width"], min(max(height + 140, 400), 6000))
        browser.save_screenshot(str(shots / f"{name}.png"))
        browser.set_window_size(size["width"], size["height"])

    def loaded() -> None:
        wait_for(
            lambda: browser.execute_script("return document.readyState") == "complete",
            "the page to load",
        )

    def visit(url: str) -> None:
        browser.get(url)
        loaded()
        wait_for(lambda: bool(browser.find_elements(By.TAG_NAME, "main")), "the page's content")

    def click_and_wait(by: str, value: str) -> None:
        """Click something that loads a new page, and wait until that page has loaded."""
        old = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(by, value).click()
        wait_for(lambda: is_stale(old), "the next page")
        loaded()

    def press(selector: str) -> None:
        click_and_wait(By.CSS_SELECTOR, selector)

    def follow(link_text: str) -> None:
        click_and_wait(By.LINK_TEXT, link_text)

    def field(name: str) -> Any:
        return browser.find_element(By.ID, name)

    # Without a session every page leads to the login help.
    visit(web.url("/announcements"))
    assert browser.current_url == web.url("/login")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Logowanie do konsoli biura"
    shot("01-login-help")

    # Opening the link only shows the button (a link preview would not use it up); pressing
    # the button logs in.
    link = login_link(web, tmp_path, env)
    visit(link)
    visit(link)
    assert browser.current_url == link
    assert "console:boss" in browser.find_element(By.TAG_NAME, "main").text
    form_cookie = browser.get_cookie("ngo_login")
    assert form_cookie["httpOnly"] and form_cookie["sameSite"] == "Strict"
    assert "ngo_login" not in browser.execute_script("return document.cookie")
    shot("13-login-confirmation")
    press("form#login button[type=submit]")
    assert browser.current_url == web.url("/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Pulpit"
    assert browser.find_element(By.CSS_SELECTOR, "svg[role=img]")
    shot("02-dashboard")

    # Compose: Polish and Ukrainian, a preview per language and platform, the recipients.
    follow("Nowe ogłoszenie")
    Select(field("kind")).select_by_value("grant-deadline")
    field("title_pl").send_keys("Otwarty konkurs ofert na 2027")
    field("text_pl").send_keys("Oferty można składać do końca terminu.")
    field("title_uk").send_keys("Відкритий конкурс пропозицій на 2027")
    field("text_uk").send_keys("Пропозиції можна подавати до кінця терміну.")
    field("deadline").send_keys(local(60, 23))
    field("url").send_keys("ngo.krakow.pl/konkursy")
    press("button[value=preview]")
    previews = {
        element.get_attribute("data-preview"): element.text
        for element in browser.find_elements(By.CSS_SELECTOR, "[data-preview]")
    }
    assert set(previews) == {"pl-telegram", "pl-matrix", "uk-telegram", "uk-matrix"}
    assert "Otwarty konkurs ofert na 2027" in previews["pl-telegram"]
    assert "/unsubscribe grants" in previews["pl-telegram"]
    assert "!unsubscribe grants" in previews["pl-matrix"]
    assert "Відкритий конкурс пропозицій на 2027" in previews["uk-telegram"]
    assert "https://ngo.krakow.pl/konkursy" in previews["uk-telegram"]
    assert field("recipients").text == "Dotrze do 5 czatów, które subskrybują teraz ten temat."
    shot("03-compose-preview")

    press("button[value=publish]")
    assert browser.current_url == web.url("/announcements/1")

    def delivered() -> bool:
        sent = browser.find_element(By.CSS_SELECTOR, "[data-state=sent]").text
        return sent == "5"

    wait_for(delivered, "the page's delivery count to reach 5 (refreshed by its script)")
    assert browser.find_element(By.CSS_SELECTOR, "[data-state=total]").text == "5"
    assert "dostarczono 5 z 5" in field("summary").text
    shot("04-announcement-delivered")

    # A second announcement, scheduled for later, cancelled after the confirmation.
    visit(web.url("/announcements/new"))
    Select(field("kind")).select_by_value("news")
    field("title_pl").send_keys("Dyżur w sobotę")
    field("text_pl").send_keys("Biuro będzie otwarte w sobotę.")
    field("publish_at").send_keys(local(2, 10))
    press("button[value=preview]")
    press("button[value=publish]")
    assert browser.current_url == web.url("/announcements/2")
    assert field("status").get_attribute("data-status") == "scheduled"
    follow("Anuluj ogłoszenie")
    shot("05-cancel-confirmation")
    press("button.danger")
    assert field("status").get_attribute("data-status") == "cancelled"

    visit(web.url("/announcements"))
    rows = browser.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 2 and "anulowane" in rows[0].text and "dostarczono 5 z 5" in rows[1].text
    shot("06-announcements")
    visit(web.url("/unanswered"))
    assert "Czy mogę złożyć ofertę po terminie?" in browser.page_source
    shot("07-unanswered")

    # The office's questions inbox: answer one from the page, see it answered.
    follow("Pytania do biura")
    assert QUESTION in browser.page_source
    shot("11-questions")
    field("answer-1").send_keys("Так, до 2 000 зł на рік: заяву подають через портал.")
    press("#q1 button[type=submit]")
    assert browser.current_url.startswith(web.url("/questions?state=answered"))
    answered = browser.find_element(By.ID, "q1").text
    assert QUESTION in answered and "через портал" in answered and ADMIN in answered
    shot("12-question-answered")
    visit(web.url("/staff"))
    assert "telegram:4242" in browser.page_source
    shot("08-staff")
    visit(web.url("/audit"))
    audit = browser.find_element(By.TAG_NAME, "tbody").text
    assert "announce publish" in audit and "announce cancel" in audit
    assert "question answered" in audit
    assert audit.count(ADMIN) >= 3  # the staff member's own identity, not a web: one
    shot("09-audit")

    # A POST without the CSRF token, from the logged-in page itself, is refused.
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const body = new URLSearchParams({kind: 'news', title_pl: 'x', text_pl: 'y',"
        " action: 'publish'});"
        "fetch('/announcements/new', {method: 'POST', body: body, credentials: 'same-origin'})"
        ".then(r => done(r.status), () => done(-1));"
    )
    assert status == 403

    # The Ukrainian interface, chosen from the menu.
    Select(field("language")).select_by_value("uk")
    press("form[action='/language'] button")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Журнал дій"

    # A phone-sized window: the dashboard still reads.
    browser.set_window_size(390, 844)
    visit(web.url("/"))
    shot("10-dashboard-phone")

    # The link works once: in a fresh browser state it starts nothing, and shows no button.
    browser.delete_all_cookies()
    visit(link)
    assert browser.current_url == link
    assert "Logowanie do konsoli biura" in browser.page_source
    assert not browser.find_elements(By.CSS_SELECTOR, "form#login")
    visit(web.url("/"))
    assert browser.current_url == web.url("/login")

    code, _seconds = web.bot.terminate()
    assert code == 0, web.log()
    log = web.log()
    assert link.rsplit("/", 1)[1] not in log  # the token never reaches the log
