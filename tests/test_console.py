"""The console chat as a real subprocess with piped input, in all three languages."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BOT_COMMAND, bot_env

DONE_WHEN = "/start\n/subscribe grants\n/topics\n/language uk\n/topics\n"


def chat(
    tmp_path: Path, stdin: str | bytes, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    result = subprocess.run(
        [*BOT_COMMAND, "chat", *args],
        input=data,
        capture_output=True,
        cwd=tmp_path,
        env=bot_env(tmp_path / "bot.sqlite3", **env),
        timeout=60,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
    )


def test_the_done_when_session(tmp_path: Path) -> None:
    result = chat(tmp_path, DONE_WHEN, "--user", "ala")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Dzień dobry" in out
    assert "Zapisano na: Granty i konkursy" in out
    assert "✅ Granty i konkursy" in out
    assert "Готово: я писатиму в цьому чаті українською" in out
    assert "✅ Гранти та конкурси" in out
    stats = subprocess.run(
        [*BOT_COMMAND, "stats", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=bot_env(tmp_path / "bot.sqlite3"),
    )
    assert json.loads(stats.stdout) == {
        "chats": 1,
        "active": 1,
        "by_platform": {"console": 1},
        "by_language": {"uk": 1},
        "by_topic": {"grants": 1},
    }


@pytest.mark.parametrize(
    ("language", "greeting", "topics_title"),
    [("pl", "Dzień dobry", "Tematy:"), ("uk", "Вітаю", "Теми:"), ("en", "Hello", "Topics:")],
)
def test_each_language(tmp_path: Path, language: str, greeting: str, topics_title: str) -> None:
    result = chat(tmp_path, "/start\n/topics\n", "--user", "x", "--lang", language)
    assert result.returncode == 0, result.stderr
    assert greeting in result.stdout and topics_title in result.stdout


def test_os_locale_is_the_hint_at_first_contact(tmp_path: Path) -> None:
    result = chat(tmp_path, "/help\n", "--user", "olena", LANG="uk_UA.UTF-8")
    assert "Що я вмію" in result.stdout


def test_the_same_chat_across_runs(tmp_path: Path) -> None:
    chat(tmp_path, "/language en\n/subscribe tax\n", "--user", "ala")
    result = chat(tmp_path, "/topics\n", "--user", "ala")
    assert "✅ 1.5% tax" in result.stdout


def test_numbered_choices_press_buttons(tmp_path: Path) -> None:
    result = chat(tmp_path, "/start\n2\n", "--user", "ala", "--lang", "en")
    assert "  2) ⬜ 1.5% tax" in result.stdout
    assert "✅ <b>" not in result.stdout and "✅ 1.5% tax" in result.stdout


def test_export_writes_a_file(tmp_path: Path) -> None:
    files = tmp_path / "files"
    result = chat(
        tmp_path, "/subscribe news\n/export\n/export\n", "--user", "ala", "--files-dir", str(files)
    )
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in files.iterdir())
    assert written == ["ngo-bot-export-console-ala-1.json", "ngo-bot-export-console-ala.json"]
    data = json.loads((files / "ngo-bot-export-console-ala.json").read_text("utf-8"))
    assert data["subscriptions"][0]["topic"] == "news"


def test_forget_erases_the_chat(tmp_path: Path) -> None:
    result = chat(tmp_path, "/subscribe all\n/forget\n1\n", "--user", "ala", "--lang", "en")
    assert "everything about this chat is erased" in result.stdout
    stats = subprocess.run(
        [*BOT_COMMAND, "stats", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=bot_env(tmp_path / "bot.sqlite3"),
    )
    assert json.loads(stats.stdout)["chats"] == 0


def test_inbox_is_shown_when_the_chat_starts(tmp_path: Path) -> None:
    import asyncio

    from bot.core.messages import ChatRef
    from bot.storage import Storage

    async def deliver() -> None:
        storage = await Storage.open(tmp_path / "bot.sqlite3")
        await storage.inbox.deliver(ChatRef("console", "ala"), "Nabór wniosków do 30.04")
        await storage.close()

    asyncio.run(deliver())
    first = chat(tmp_path, "", "--user", "ala")
    assert "📬 Nabór wniosków do 30.04" in first.stdout
    second = chat(tmp_path, "", "--user", "ala")
    assert "Nabór" not in second.stdout


def test_bad_input_never_stops_the_chat(tmp_path: Path) -> None:
    junk = b"\xff\xfe\x00binary\n" + ("x" * 5000).encode() + b"\n<b>html</b>\n/language\n/help\n"
    result = chat(tmp_path, junk, "--user", "ala", "--lang", "en")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "too long" in out
    assert "I don't know the answer" in out
    assert "What I can do" in out


def test_quit_ends_the_chat(tmp_path: Path) -> None:
    result = chat(tmp_path, "/quit\n/help\n", "--user", "ala")
    assert result.returncode == 0 and "Co potrafię" not in result.stdout


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert chat(tmp_path, "", "--lang", "de").returncode == 2
    assert chat(tmp_path, "", "--user", "two words").returncode == 2


def read_until(fd: int, marker: bytes, timeout: float = 30.0) -> bytes:
    """Read a pseudo-terminal until `marker` appears (or it closes, or time runs out)."""
    import select
    import time

    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _w, _x = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_run_on_a_terminal_without_a_network_is_a_console_chat(tmp_path: Path) -> None:
    """The README's first command: `ngo-bot run` on a terminal, no network configured."""
    import pty

    main, child = pty.openpty()
    process = subprocess.Popen(
        [*BOT_COMMAND, "run"],
        stdin=child,
        stdout=child,
        stderr=child,
        cwd=tmp_path,
        env=bot_env(tmp_path / "bot.sqlite3"),
        close_fds=True,
    )
    os.close(child)
    try:
        banner = read_until(main, b"/quit")
        os.write(main, b"/help\n")
        shown = read_until(main, "Co potrafię".encode())
        os.write(main, b"/quit\n")
        rest = read_until(main, b"never appears", timeout=10)
        code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main)
    output = (banner + shown + rest).decode("utf-8", errors="replace")
    assert code == 0, output
    assert "console:" in output and "Co potrafię" in output
    assert "Fatal Python error" not in output and "INFO" not in output
