"""How fast one platform may be sent to: overall rate, per-chat spacing, group quota, pauses.

One SendLimiter is the budget of everything a bot sends on its platform: the dispatcher's
broadcasts and, where the transport paces its interactive replies through the same object
(Telegram), those replies. Replies come first: a free slot goes to a waiting reply before any
broadcast, so broadcasts take what replies leave. A pause (a 429 with retry_after) holds both.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from enum import IntEnum

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


ChatKey = Hashable  # the platform's own chat id, as the dispatcher and the transport both know it
Sleep = Callable[[float], Awaitable[None]]


class Priority(IntEnum):
    """Who gets a free slot first: a waiting reply, then a broadcast."""

    REPLY = 0
    BROADCAST = 1


class SendLimiter:
    """The sending budget of one platform. Time is monotonic seconds.

    A send calls `wait_turn()` before it starts and `done()` once it has the answer (or was not
    made after all). Every sender of the platform shares one limiter: the dispatcher's
    broadcasts, and the transport's replies where it paces them through it (`reply_turn()`).
    """

    def __init__(
        self,
        limits: PlatformLimits,
        clock: Callable[[], float] = time.monotonic,
        *,
        window: float = RATE_WINDOW_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._window_seconds = window
        # Places in the rate's window: a send takes one when it starts and gives it back
        # `window` seconds after its answer.
        self._places = max(1, int(limits.rate)) if limits.rate else 0
        self._in_flight = 0
        self._answered: deque[float] = deque()  # answers whose places are still held
        self._answer = asyncio.Event()
        self._next_slot = 0.0
        # The latest moment the granter slept until: it counts as reached even on a clock
        # that has not moved (an injected one).
        self._reached = 0.0
        self._waiting: dict[Priority, deque[asyncio.Future[None]]] = {p: deque() for p in Priority}
        self._granter: asyncio.Task[None] | None = None
        self._paused_until = 0.0
        # Both ordered by their chat's latest message (oldest first): expired chats are dropped
        # from the front, so that each send costs O(1) however many chats a broadcast reaches.
        self._last_sent: OrderedDict[ChatKey, tuple[float, Priority]] = OrderedDict()
        self._group_sends: OrderedDict[ChatKey, deque[float]] = OrderedDict()

    def _now(self) -> float:
        return max(self._clock(), self._reached)

    # --- whole-platform pause (a 429 with retry_after) ----------------------------------------

    def pause(self, seconds: float) -> None:
        """Send nothing on this platform for `seconds` (extends, never shortens, a pause)."""
        self._paused_until = max(self._paused_until, self._now() + seconds)

    def paused_for(self) -> float:
        """Seconds until the platform may be sent to again (0 when not paused)."""
        return max(0.0, self._paused_until - self._now())

    # --- overall rate -------------------------------------------------------------------------

    async def wait_turn(self, priority: Priority = Priority.BROADCAST) -> None:
        """Wait until a send may start: its slot of the overall rate and a place in its window.

        Slots are 1/rate seconds apart, the first one at once (there is no start-up burst), none
        during a pause; a free slot goes to the oldest waiting reply, else to the oldest waiting
        broadcast. The server receives a message somewhere between the start of its send and
        the answer, so a send holds its place in the window from its start until one second
        after its answer: then no one-second window at the server holds more than `rate`
        messages, however the network delays them.
        """
        if not self._places:
            return
        now = self._now()
        if not self._has_waiters() and self._turn_wait(now) == 0:
            self._take_turn(now)
            return
        waiter = asyncio.get_running_loop().create_future()
        queue = self._waiting[priority]
        queue.append(waiter)
        if self._granter is None or self._granter.done():
            self._granter = asyncio.create_task(self._grant_turns(), name="send-turns")
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                with contextlib.suppress(ValueError):
                    queue.remove(waiter)
            else:
                self._give_back()  # granted, then cancelled: no send was made
            if not self._has_waiters() and self._granter is not None:
                self._granter.cancel()  # it holds nothing while it waits
            raise

    def done(
        self,
        chat: ChatKey | None = None,
        shared: bool = False,
        priority: Priority = Priority.BROADCAST,
    ) -> None:
        """The send that waited its turn has its answer, or was not made: the window and the
        chat's spacing count from now."""
        now = self._now()
        if self._places:
            self._in_flight = max(0, self._in_flight - 1)
            self._answered.append(now)
            self._answer.set()
        if chat is None:
            return
        if self.limits.chat_interval:
            self._touch_last_sent(chat, now, priority)
        if shared and self.limits.group_per_minute is not None:
            window = self._group_sends.setdefault(chat, deque())
            if window:
                window[-1] = now
            else:
                window.append(now)
            self._group_sends.move_to_end(chat)

    async def reply_turn(self, chat: ChatKey | None, shared: bool) -> None:
        """Wait until a reply to `chat` may start (None: no chat, e.g. an edit), before any
        waiting broadcast; `done(chat, shared, Priority.REPLY)` follows its answer."""
        if chat is not None:
            while (delay := self.chat_delay(chat, shared, Priority.REPLY)) > 0:
                await self._sleep(delay)
            self.note_sent(chat, shared, Priority.REPLY)
        await self.wait_turn(Priority.REPLY)

    def _has_waiters(self) -> bool:
        """Whether a send waits for a turn (cancelled waiters at the front are dropped)."""
        found = False
        for queue in self._waiting.values():
            while queue and queue[0].done():
                queue.popleft()
            found = found or bool(queue)
        return found

    def _turn_wait(self, now: float) -> float | None:
        """Seconds until the next turn (0: now); None while every place waits for an answer."""
        answered = self._answered
        while answered and answered[0] + self._window_seconds <= now:
            answered.popleft()
        wait = max(0.0, self._next_slot - now, self._paused_until - now)
        if self._in_flight + len(answered) < self._places:
            return wait
        if not answered:
            return None
        return max(wait, answered[0] + self._window_seconds - now)

    def _take_turn(self, now: float) -> None:
        """Take the slot that has come. A turn given a little late (the loop woke after the
        slot, by less than a slot) keeps the grid of slots, so that such delays do not add up
        over a broadcast; after a longer gap (idle, or a pause) the next slot counts from now."""
        assert self.limits.rate is not None
        spacing = 1.0 / self.limits.rate
        base = self._next_slot if now < self._next_slot + spacing else now
        self._next_slot = base + spacing
        self._in_flight += 1

    def _give_back(self) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        self._answer.set()

    async def _grant_turns(self) -> None:
        """Give turns to the waiters, replies first, as slots, places and pauses allow."""
        while self._has_waiters():
            now = self._now()
            wait = self._turn_wait(now)
            if wait is None:
                self._answer.clear()
                await self._answer.wait()
            elif wait > 0:
                await self._sleep(wait)
                self._reached = max(self._reached, now + wait)
            else:
                self._grant_next(now)

    def _grant_next(self, now: float) -> None:
        for priority in Priority:
            queue = self._waiting[priority]
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    self._take_turn(now)
                    return

    # --- per chat -----------------------------------------------------------------------------

    def chat_delay(
        self, chat: ChatKey, shared: bool, priority: Priority = Priority.BROADCAST
    ) -> float:
        """Seconds before this chat may receive another message (0: now).

        A reply keeps its distance from a broadcast message to the chat, not from the
        conversation's other replies (the parts of one answer, a short burst Telegram allows);
        a broadcast keeps it from both. A group's quota counts every message.
        """
        now = self._now()
        delay = 0.0
        last = self._last_sent.get(chat)
        if last is not None and self.limits.chat_interval:
            at, sent_by = last
            if not (priority is Priority.REPLY and sent_by is Priority.REPLY):
                delay = max(delay, at + self.limits.chat_interval - now)
        quota = self.limits.group_per_minute
        window = self._group_sends.get(chat)
        if shared and quota is not None and window is not None:
            while window and window[0] <= now - GROUP_WINDOW_SECONDS:
                window.popleft()
            if len(window) >= quota:
                delay = max(delay, window[0] + GROUP_WINDOW_SECONDS - now)
        return delay

    def note_sent(
        self, chat: ChatKey, shared: bool, priority: Priority = Priority.BROADCAST
    ) -> None:
        """A send to the chat starts (counted now, so that no other one starts beside it)."""
        now = self._now()
        self._prune(now)
        if self.limits.chat_interval:
            self._touch_last_sent(chat, now, priority)
        if shared and self.limits.group_per_minute is not None:
            self._group_sends.setdefault(chat, deque()).append(now)
            self._group_sends.move_to_end(chat)

    def tracked_chats(self) -> int:
        """How many chats the limiter keeps state for (bounded by the recent sends)."""
        return len(self._last_sent.keys() | self._group_sends.keys())

    def _touch_last_sent(self, chat: ChatKey, now: float, priority: Priority) -> None:
        self._last_sent[chat] = (now, priority)
        self._last_sent.move_to_end(chat)

    def _prune(self, now: float) -> None:
        """Forget chats no limit cares about any more: private spacing after `chat_interval`,
        a group's quota after its window. Amortised O(1): each entry is dropped once."""
        last_sent = self._last_sent
        horizon = now - self.limits.chat_interval
        while last_sent:
            chat, (at, _sent_by) = next(iter(last_sent.items()))
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
