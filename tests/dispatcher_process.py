"""A dispatcher alone in a process, sending slowly to console chats, until it is killed.

    python -m tests.dispatcher_process DB_PATH

The crash-safety test kills it with SIGKILL in the middle of a broadcast.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.config import Settings
from bot.core.messages import Reply
from bot.core.topics import load_topics
from bot.delivery import DeliveryPolicy, Dispatcher
from bot.delivery.limits import UNLIMITED
from bot.storage import Storage
from bot.transports.base import SendOutcome
from bot.transports.console import ConsoleTransport

CLAIM_SIZE = 20
POLICY = DeliveryPolicy(poll_interval=0.05, claim_size=CLAIM_SIZE, flush_interval=0.05)


class SlowConsoleTransport(ConsoleTransport):
    """The console inbox, a few milliseconds per message (so a kill lands mid-broadcast)."""

    async def send(self, chat_id: str, reply: Reply) -> SendOutcome:
        outcome = await super().send(chat_id, reply)
        await asyncio.sleep(0.005)
        return outcome


async def main(db_path: Path) -> None:
    settings = Settings(db_path=db_path, quiet_hours=None)
    storage = await Storage.open(db_path)
    transport = SlowConsoleTransport(storage)
    dispatcher = Dispatcher(
        storage,
        settings,
        load_topics(None),
        {"console": transport},
        policy=POLICY,
        limits={"console": UNLIMITED},
    )
    await dispatcher.start()
    print("running", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
