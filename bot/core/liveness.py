"""Whether the chat networks are still being listened to: what each transport last completed.

A network transport says once what it does to receive (`expect`: a Telegram 'poll', a Matrix
'sync', a Telegram 'webhook check') and reports each completed one (`completed`). The values are
kept in memory; the heartbeat service writes them to the database, throttled, for
`ngo-bot health`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime

from bot.clock import utcnow

POLL = "poll"
SYNC = "sync"
WEBHOOK_CHECK = "webhook check"


class Liveness:
    """Per platform: the activity that proves it is listening, and when it last completed."""

    def __init__(self) -> None:
        self._activities: dict[str, str] = {}
        self._completed: dict[str, datetime] = {}
        self._changed = asyncio.Event()

    def expect(self, platform: str, activity: str) -> None:
        """A transport that receives by `activity` (POLL, SYNC, WEBHOOK_CHECK) is configured."""
        self._activities[platform] = activity

    def completed(self, platform: str) -> None:
        """The platform's transport completed its activity just now."""
        self._completed[platform] = utcnow()
        self._changed.set()

    @property
    def activities(self) -> Mapping[str, str]:
        return dict(self._activities)

    @property
    def last_completed(self) -> Mapping[str, datetime]:
        return dict(self._completed)

    async def wait_for_progress(self) -> Mapping[str, datetime]:
        """Wait until something completed since the last call; return every last completion."""
        await self._changed.wait()
        self._changed.clear()
        return self.last_completed
