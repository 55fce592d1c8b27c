"""Ask the office, end to end: the real `ngo-bot run` against the fake Bot API on 127.0.0.1.

N residents each send `/ask <question>`; we time (1) from injecting the question to the staff
group receiving its post, and (2) from injecting a staff member's reply to that post to the
resident receiving the answer. Both go through the outbox; the core wakes the dispatcher when it
writes them. Each question and its answered note are two messages to the staff group, which
Telegram allows 20 a minute and one a second: `--gap` (default 6 s) spaces the questions so that
the figures measure the bot, not that pacing (`--gap 0` shows the pacing). Prints the median, p90
and max of each, in seconds.

    PYTHONPATH=. python -m benchmarks.questions_roundtrip [--questions 10] [--gap 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fakebotapi import FakeBotApi, FakeUser

ADMIN_ID = 1000
READING = 2.0  # seconds a staff member takes to read the question before replying


def summary(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)]
    return (
        f"{name}: median {statistics.median(ordered):.2f} s, p90 {p90:.2f} s, "
        f"max {ordered[-1]:.2f} s ({len(ordered)} questions)"
    )


def run(questions: int, gap: float) -> None:
    with tempfile.TemporaryDirectory() as folder, FakeBotApi() as api:
        root = Path(folder)
        admin = api.make_user("Anna", user_id=ADMIN_ID)
        group = api.add_group("Biuro", admins=[admin])
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))},
            **api.env(),
            "BOT_DB": str(root / "bot.sqlite3"),
            "BOT_ADMINS": f"telegram:{ADMIN_ID}",
            "BOT_STAFF_CHATS": f"telegram:{group.id}",
            "BOT_QUIET_HOURS": "off",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }
        with (root / "bot.log").open("wb") as log:
            bot = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=log, cwd=root
            )
            try:
                to_staff, to_resident = measure(api, admin, group.id, questions, gap)
            finally:
                bot.terminate()
                bot.wait(30)
    print(summary("question -> staff group post", to_staff))
    print(summary("staff reply -> answer in the resident's chat", to_resident))


def measure(
    api: FakeBotApi, admin: FakeUser, group_id: int, questions: int, gap: float
) -> tuple[list[float], list[float]]:
    to_staff: list[float] = []
    to_resident: list[float] = []
    warm = api.make_user("Warm", language_code="uk")
    api.inject_command(warm, "help")
    api.wait_for_messages_sync(warm.id, 1, timeout=60)  # the bot is up
    for n in range(1, questions + 1):
        time.sleep(gap)
        staff_time, resident_time = one_question(api, admin, group_id, n)
        to_staff.append(staff_time)
        to_resident.append(resident_time)
    return to_staff, to_resident


def one_question(api: FakeBotApi, admin: FakeUser, group_id: int, n: int) -> tuple[float, float]:
    """Seconds from the question to its post, and from the staff reply to the answer."""
    resident = api.make_user(f"R{n}", language_code="uk")
    started = time.monotonic()
    api.inject_command(resident, "ask", f"Питання номер {n} про оренду залу?")
    post = api.wait_for(
        lambda: [m for m in api.sent_messages(group_id) if f"#{n} " in m.plain_text], timeout=60
    )[0]
    to_staff = time.monotonic() - started
    time.sleep(READING)
    answered = len(api.sent_messages(resident.id))
    group = api.chat(group_id)
    started = time.monotonic()
    api.inject_message(admin, f"Відповідь {n}", chat=group, reply_to=post)
    api.wait_for(lambda: len(api.sent_messages(resident.id)) > answered, timeout=60)
    return to_staff, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--gap", type=float, default=6.0, help="seconds between questions")
    args = parser.parse_args()
    run(args.questions, args.gap)


if __name__ == "__main__":
    main()
