"""The per-chat state of SendLimiter stays bounded and cheap as a broadcast grows."""

from __future__ import annotations

import time

from bot.delivery import PlatformLimits, SendLimiter
from bot.delivery.limits import GROUP_WINDOW_SECONDS


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send(limiter: SendLimiter, chat: int, shared: bool) -> None:
    limiter.note_sent(chat, shared)


def test_private_chats_are_forgotten_after_their_spacing() -> None:
    """1000 private chats a second: only the last second's chats are kept, not 60 s of them."""
    clock = FakeClock()
    limiter = SendLimiter(PlatformLimits(rate=1000.0), clock)
    for chat in range(20_000):
        clock.now += 0.001
        send(limiter, chat, shared=False)
    assert limiter.tracked_chats() <= 1001


def test_groups_are_kept_for_their_window_and_then_forgotten() -> None:
    clock = FakeClock()
    limiter = SendLimiter(PlatformLimits(rate=30.0), clock)
    send(limiter, 1, shared=False)
    send(limiter, -1, shared=True)
    clock.now += 2.0
    send(limiter, 2, shared=False)
    assert limiter.tracked_chats() == 2  # the group and chat 2; chat 1's second is over
    clock.now += GROUP_WINDOW_SECONDS
    send(limiter, 3, shared=False)
    assert limiter.tracked_chats() == 1
    assert limiter.chat_delay(-1, shared=True) == 0


def test_spacing_still_holds_for_recent_chats() -> None:
    clock = FakeClock()
    limiter = SendLimiter(PlatformLimits(rate=1000.0), clock)
    for chat in range(5000):
        clock.now += 0.0001
        send(limiter, chat, shared=False)
    assert limiter.chat_delay(4999, shared=False) > 0.99
    assert limiter.chat_delay(0, shared=False) > 0.49


def test_a_send_costs_the_same_at_100000_chats() -> None:
    """The cost per send does not grow with the chats already reached (no rebuild)."""
    clock = FakeClock()
    limiter = SendLimiter(PlatformLimits(rate=1000.0), clock)

    def cost(chats: range) -> float:
        started = time.perf_counter()
        for chat in chats:
            clock.now += 0.001
            limiter.chat_delay(chat, shared=False)
            send(limiter, chat, shared=False)
        return time.perf_counter() - started

    first = cost(range(0, 10_000))
    cost(range(10_000, 90_000))
    last = cost(range(90_000, 100_000))
    assert limiter.tracked_chats() <= 1001
    assert last < first * 5
