"""A broadcast on Matrix: the real `ngo-bot run` sends a CLI announcement to a resident's room."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from tests.matrix_helpers import BotProcess, MatrixResident
from tests.test_announce_cli import ahead
from tests.test_cli import ngo_bot


async def test_a_subscribed_resident_receives_a_broadcast_with_the_unsubscribe_hint(
    resident: MatrixResident,
    bot_process: Callable[..., BotProcess],
    tmp_path: Path,
) -> None:
    bot = bot_process()
    bot.start()
    try:
        room = await resident.start_chat_with_bot()
        subscribed = await resident.ask(room, "!subscribe grants")
        assert "Granty i konkursy" in subscribed["body"]

        result = await asyncio.to_thread(
            ngo_bot,
            tmp_path,
            "announce",
            "create",
            "--json",
            "--kind=grant-deadline",
            "--title-pl=Nabór <wniosków> 2027",
            "--text-pl=Szczegóły & formularze na stronie.",
            f"--deadline={ahead(days=30)}",
            "--url=https://ngo.krakow.pl/",
        )
        assert result.returncode == 0, result.stderr
        announcement_id = json.loads(result.stdout)["id"]

        broadcast = await resident.next_notice(room)
        assert "Nabór <wniosków> 2027" in broadcast["body"]
        assert "Szczegóły & formularze na stronie." in broadcast["body"]
        assert (
            "!unsubscribe grants" in broadcast["body"] and "/unsubscribe" not in broadcast["body"]
        )
        assert "<b>Nabór &lt;wniosków&gt; 2027</b>" in broadcast["formatted_body"]
        assert 'href="https://ngo.krakow.pl/"' in broadcast["formatted_body"]
    finally:
        code = bot.stop()
    assert code == 0, bot.log()
    deliveries = ngo_bot(tmp_path, "deliveries", str(announcement_id), "--json")
    counts = json.loads(deliveries.stdout)
    assert (counts["total"], counts["sent"]) == (1, 1)
