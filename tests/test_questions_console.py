"""Ask the office between two console chats: a resident (`ngo-bot chat --user olena`) and the
office's staff chat (`ngo-bot chat --user office`, BOT_STAFF_CHATS=console:office), both
running at once as real subprocesses."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from tests.conftest import BOT_COMMAND, bot_env

QUESTION = "Чи можна отримати компенсацію за оренду приміщення для гуртка вишивки?"
ANSWER = "Так, з програми малих грантів. Напишіть нам на ngo@um.krakow.pl."
DEADLINE = 60.0


class Session:
    """`ngo-bot chat --user NAME` with a pipe for input and its output collected as it comes."""

    def __init__(self, tmp_path: Path, user: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [*BOT_COMMAND, "chat", "--user", user, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=bot_env(
                tmp_path / "bot.sqlite3",
                BOT_ADMINS="console:office",
                BOT_STAFF_CHATS="console:office",
            ),
        )
        self.output = ""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            with self._lock:
                self.output += raw.decode("utf-8", errors="replace")

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode("utf-8"))
        self.process.stdin.flush()

    def wait_for(self, text: str, after: int = 0) -> int:
        """Wait until `text` appears in the output past `after`; return where it ends."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            with self._lock:
                found = self.output.find(text, after)
            if found >= 0:
                return found + len(text)
            time.sleep(0.05)
        raise AssertionError(f"never saw {text!r} in:\n{self.output}")

    def close(self) -> str:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        self.process.wait(DEADLINE)
        self._release()
        return self.output

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._release()

    def _release(self) -> None:
        self._reader.join(DEADLINE)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


def test_the_whole_loop_between_two_console_chats(tmp_path: Path) -> None:
    olena = Session(tmp_path, "olena", "--lang", "uk")
    office: Session | None = None
    try:
        olena.say(QUESTION)
        seen = olena.wait_for("3) 📨")  # the third choice: ask the office
        olena.say("3")
        seen = olena.wait_for(QUESTION, seen)
        olena.say("так")
        seen = olena.wait_for("#1", seen)

        office = Session(tmp_path, "office")
        office.say("/questions")
        shown = office.wait_for("📬 ")
        shown = office.wait_for(QUESTION, shown)
        office.say(f"/answer 1 {ANSWER}")

        seen = olena.wait_for("📬 ", seen)  # shown while the chat waits for input
        olena.wait_for(ANSWER, seen)
        office.wait_for("✅ #1", shown)  # the office's chat gets the note of who answered
        assert olena.close().count(ANSWER) == 1
        assert office.close().count("❓") == 1
    finally:
        olena.kill()
        if office is not None:
            office.kill()
    listed = subprocess.run(
        [*BOT_COMMAND, "questions", "list", "--state", "answered"],
        capture_output=True,
        text=True,
        check=True,
        env=bot_env(tmp_path / "bot.sqlite3"),
    )
    assert QUESTION in listed.stdout and ANSWER in listed.stdout
