"""How fast one platform may be sent to: overall rate, per-chat spacing, group quota, pauses."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings

GROUP_WINDOW_SECONDS = 60.0
RATE_WINDOW_SECONDS = 1.0


@dataclass(frozen=True)
class PlatformLimits:
    """`rate`: messages per second overall (None: unlimited); `chat_interval`: seconds between
    two messages to one chat; `group_per_minute`: messages per minute to one group or room."""

    rate: float | None
    chat_interval: float = 1.0
    group_per_minute: int | None = 20


UNLIMITED = PlatformLimits(rate=None, chat_interval=0.0, group_per_minute=None)
MATRIX_RATE = 10.0


def limits_for(platform: str, settings: Settings) -> PlatformLimits:
    """Telegram: TELEGRAM_MAX_RATE (its FAQ says about 30/s); Matrix: 10/s; console: none."""
    if platform == "telegram":
        return PlatformLimits(rate=settings.telegram_max_rate)
    if platform == "console":
        return UNLIMITED
    return PlatformLimits(rate=MATRIX_RATE)


class SendLimiter:
    """The pacing of one platform's sender. Time is monotonic seconds.

    A send calls `wait_turn()` before it starts and `done()` once it has the answer (or was not
    made after all).
    """

    def __init__(
        self,
        limits: PlatformLimits,
        clock: Callable[[], float] = time.monotonic,
        *,
        window: float = RATE_WINDOW_SECONDS,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._window_seconds = window
        self._next_slot = 0.0
        # Places in the rate's window: taken when a send starts, given back `window` seconds
        # after its answer.
        self._window = asyncio.Semaphore(max(1, int(limits.rate))) if limits.rate else None
        self._paused_until = 0.0
        # Both ordered by their chat's latest message (oldest first): expired chats are dropped
        # from the front, so that each send costs O(1) however many chats a broadcast reaches.
        self._last_sent: OrderedDict[int, float] = OrderedDict()
        self._group_sends: OrderedDict[int, deque[float]] = OrderedDict()

    # --- whole-platform pause (a 429 with retry_after) ----------------------------------------

    def pause(self, seconds: float) -> None:
        """Send nothing on this platform for `seconds` (extends, never shortens, a pause)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        """Seconds until the platform may be sent to again (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    # --- overall rate -------------------------------------------------------------------------

    async def wait_turn(self) -> None:
        """Wait until a send may start: its slot of the overall rate and a place in its window.

        Slots are 1/rate seconds apart, the first one at once (there is no start-up burst). The
        server receives a message somewhere between the start of its send and the answer, so a
        send holds its place in the window from its start until one second after its answer:
        then no one-second window at the server holds more than `rate` messages, however the
        network delays them.
        """
        if self.limits.rate is None or self._window is None:
            return
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1.0 / self.limits.rate
        if slot > now:
            await asyncio.sleep(slot - now)
        await self._window.acquire()

    def done(self, chat_ref: int, shared: bool) -> None:
        """The send that waited its turn has its answer, or was not made: the window and the
        chat's spacing count from now."""
        if self._window is not None:
            asyncio.get_running_loop().call_later(self._window_seconds, self._window.release)
        now = self._clock()
        if self.limits.chat_interval:
            self._touch_last_sent(chat_ref, now)
        if shared and self.limits.group_per_minute is not None:
            window = self._group_sends.setdefault(chat_ref, deque())
            if window:
                window[-1] = now
            else:
                window.append(now)
            self._group_sends.move_to_end(chat_ref)

    # --- per chat -----------------------------------------------------------------------------

    def chat_delay(self, chat_ref: int, shared: bool) -> float:
        """Seconds before this chat may receive another message (0: now)."""
        now = self._clock()
        delay = 0.0
        last = self._last_sent.get(chat_ref)
        if last is not None and self.limits.chat_interval:
            delay = max(delay, last + self.limits.chat_interval - now)
        quota = self.limits.group_per_minute
        window = self._group_sends.get(chat_ref)
        if shared and quota is not None and window is not None:
            while window and window[0] <= now - GROUP_WINDOW_SECONDS:
                window.popleft()
            if len(window) >= quota:
                delay = max(delay, window[0] + GROUP_WINDOW_SECONDS - now)
        return delay

    def note_sent(self, chat_ref: int, shared: bool) -> None:
        """A send to the chat starts (counted now, so that no other one starts beside it)."""
        now = self._clock()
        self._prune(now)
        if self.limits.chat_interval:
            self._touch_last_sent(chat_ref, now)
        if shared and self.limits.group_per_minute is not None:
            self._group_sends.setdefault(chat_ref, deque()).append(now)
            self._group_sends.move_to_end(chat_ref)

    def tracked_chats(self) -> int:
        """How many chats the limiter keeps state for (bounded by the recent sends)."""
        return len(self._last_sent.keys() | self._group_sends.keys())

    def _touch_last_sent(self, chat_ref: int, now: float) -> None:
        self._last_sent[chat_ref] = now
        self._last_sent.move_to_end(chat_ref)

    def _prune(self, now: float) -> None:
        """Forget chats no limit cares about any more: private spacing after `chat_interval`,
        a group's quota after its window. Amortised O(1): each entry is dropped once."""
        last_sent = self._last_sent
        horizon = now - self.limits.chat_interval
        while last_sent:
            chat, at = next(iter(last_sent.items()))
            if at > horizon:
                break
            del last_sent[chat]
        groups = self._group_sends
        group_horizon = now - GROUP_WINDOW_SECONDS
        while groups:
            chat, window = next(iter(groups.items()))
            if window and window[-1] > group_horizon:
                break
            del groups[chat]
