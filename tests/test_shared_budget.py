"""One budget for everything the bot sends on Telegram: replies first, broadcasts with the rest.

Through TelegramTransport and the Dispatcher against the fake Bot API (which enforces Telegram's
flood limits here, so that any excess shows as a 429): the fake's recorded arrival times must
never hold more than TELEGRAM_MAX_RATE messages in one second, a 429 answered to either side
pauses both, and a reply does not wait for the broadcast. Then the limiter alone, on an injected
clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

from benchmarks.broadcast import max_in_window
from bot.app import build_core
from bot.config import Settings
from bot.core.topics import Topics, load_topics
from bot.delivery import Dispatcher, PlatformLimits, Priority, SendLimiter
from bot.storage import Storage
from bot.transports.telegram import TelegramTransport
from tests.delivery_helpers import (
    FAST,
    ScriptedTransport,
    add_chats,
    eventually,
    grant_fields,
    service_for,
    settled,
)
from tests.fakebotapi import ApiCall, FakeBotApi, FakeUser, FloodLimits


def load_core_topics() -> Topics:
    return load_topics(None)


MAX_RATE = 30
RETRY_AFTER = 2
SETTLE_SECONDS = 60.0  # a bound for a loaded machine, never a pace
FIRST_READER = 820_000_001


@dataclass
class BudgetRig:
    """Transport and dispatcher in this process at TELEGRAM_MAX_RATE=30, the fake enforcing 30/s."""

    api: FakeBotApi
    settings: Settings
    storage: Storage
    readers: list[int]

    async def broadcast_to(self, count: int) -> int:
        """`count` private chats subscribed to grants, and an announcement to them."""
        self.readers = list(range(FIRST_READER, FIRST_READER + count))
        await add_chats(self.storage, "telegram", [str(chat) for chat in self.readers])
        service = service_for(self.storage, self.settings)
        announcement = await service.create(grant_fields(), actor="console:boss")
        return announcement.id

    def broadcast_calls(self) -> list[ApiCall]:
        readers = set(self.readers)
        return [c for c in self.api.calls("sendMessage") if c.params.get("chat_id") in readers]

    async def broadcast_under_way(self, messages: int) -> None:
        await self.api.wait_for_async(
            lambda: len(self.broadcast_calls()) >= messages, SETTLE_SECONDS, "the broadcast"
        )

    async def reply_call(self, person: FakeUser) -> ApiCall:
        """The fake's record of the (accepted) reply to `person`."""
        await self.api.wait_for_messages(person.id, 1, SETTLE_SECONDS)
        return next(c for c in self.person_calls(person) if c.ok)

    def person_calls(self, person: FakeUser) -> list[ApiCall]:
        return [c for c in self.api.calls("sendMessage") if c.params.get("chat_id") == person.id]

    def most_in_one_second(self) -> int:
        """Every send that reached the fake counts, refused ones too."""
        return max_in_window(sorted(call.time for call in self.api.calls("sendMessage")))

    def refusals(self) -> list[ApiCall]:
        return [call for call in self.api.calls("sendMessage") if call.status == 429]


@pytest.fixture
async def budget_rig(
    fake_bot_api: FakeBotApi, storage: Storage, settings: Settings
) -> AsyncIterator[BudgetRig]:
    configured = replace(
        settings,
        telegram_token=fake_bot_api.token,
        telegram_api_base_url=fake_bot_api.base_url,
        telegram_max_rate=float(MAX_RATE),
    )
    core = build_core(storage, configured)
    fatal: list[str] = []
    transport = TelegramTransport(configured, core, fatal.append)
    await transport.start()
    await asyncio.wait_for(transport.ready.wait(), 10)
    fake_bot_api.enable_flood_control(FloodLimits(overall_per_second=MAX_RATE))
    dispatcher = Dispatcher(storage, configured, core.topics, {"telegram": transport}, policy=FAST)
    await dispatcher.start()
    try:
        yield BudgetRig(fake_bot_api, configured, storage, [])
    finally:
        await dispatcher.stop()
        await transport.stop()
    assert not fatal


async def test_a_burst_of_200_replies_during_a_broadcast_stays_within_the_rate(
    budget_rig: BudgetRig,
) -> None:
    rig, api = budget_rig, budget_rig.api
    announcement_id = await rig.broadcast_to(60)
    await rig.broadcast_under_way(5)
    people = [api.make_user(f"Osoba {n}") for n in range(200)]
    for person in people:
        api.inject_command(person, "help")
    for person in people:
        await api.wait_for_messages(person.id, 1, SETTLE_SECONDS)
    await eventually(lambda: settled(rig.storage, announcement_id), SETTLE_SECONDS)

    assert rig.most_in_one_second() <= MAX_RATE
    assert rig.refusals() == []
    assert len(rig.broadcast_calls()) == 60


async def test_a_429_answered_to_a_reply_pauses_the_broadcast_too(budget_rig: BudgetRig) -> None:
    rig, api = budget_rig, budget_rig.api
    await rig.broadcast_to(150)
    await rig.broadcast_under_way(10)
    anna = api.make_user("Anna")
    api.fail_with_retry_after(RETRY_AFTER, method="sendMessage", chat_id=anna.id)
    api.inject_command(anna, "help")
    answered = await rig.reply_call(anna)

    (refused,) = rig.refusals()
    assert refused.params["chat_id"] == anna.id
    assert answered.time - refused.time >= RETRY_AFTER - 0.1  # the reply retried after the pause
    paused = [c for c in rig.broadcast_calls() if 0 < c.time - refused.time < RETRY_AFTER - 0.1]
    assert len(paused) <= 2, [c.summary() for c in paused]  # at most the sends in flight
    await rig.broadcast_under_way(len(rig.broadcast_calls()) + 1)  # and then it goes on


async def test_a_429_answered_to_a_broadcast_pauses_the_replies_too(
    budget_rig: BudgetRig,
) -> None:
    rig, api = budget_rig, budget_rig.api
    victim = FIRST_READER + 10
    api.fail_with_retry_after(RETRY_AFTER, method="sendMessage", chat_id=victim)
    await rig.broadcast_to(150)
    await api.wait_for_async(rig.refusals, SETTLE_SECONDS, "the 429")
    anna = api.make_user("Anna")
    api.inject_command(anna, "help")
    answered = await rig.reply_call(anna)

    (refused,) = rig.refusals()
    assert refused.params["chat_id"] == victim
    assert answered.time - refused.time >= RETRY_AFTER - 0.1
    assert len(rig.person_calls(anna)) == 1  # waited, not refused


async def test_replies_are_not_starved_by_a_broadcast(budget_rig: BudgetRig) -> None:
    """Replies take the next slot: their latency stays far below the broadcast's 5 s."""
    rig, api = budget_rig, budget_rig.api
    announcement_id = await rig.broadcast_to(150)
    await rig.broadcast_under_way(10)
    latencies = []
    for n in range(8):
        person = api.make_user(f"Pytający {n}")
        # The fake stamps its calls with time.time(): the same clock, to measure the latency.
        asked = time.time()
        api.inject_command(person, "help")
        latencies.append((await rig.reply_call(person)).time - asked)
        await asyncio.sleep(0.2)
    last_reply = time.time()
    await eventually(lambda: settled(rig.storage, announcement_id), SETTLE_SECONDS)

    assert max(rig.broadcast_calls(), key=lambda c: c.time).time > last_reply  # during it
    assert max(latencies) < 1.5, latencies  # the broadcast takes 5 s
    assert rig.most_in_one_second() <= MAX_RATE
    assert rig.refusals() == []


# --- the limiter alone, on an injected clock ---------------------------------------------------


class VirtualClock:
    """Monotonic seconds that move only when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Let the tasks woken so far run at this moment, then move on."""
        for _ in range(5):
            await asyncio.sleep(0)
        self.now += seconds


def virtual_limiter(clock: VirtualClock, **limits: float | None) -> SendLimiter:
    return SendLimiter(PlatformLimits(**limits), clock, sleep=clock.sleep)  # type: ignore[arg-type]


async def test_a_free_slot_goes_to_the_waiting_replies_before_the_broadcasts() -> None:
    clock = VirtualClock()
    limiter = virtual_limiter(clock, rate=10.0)
    granted: list[tuple[str, float]] = []

    async def send(name: str, priority: Priority) -> None:
        await limiter.wait_turn(priority)
        granted.append((name, clock.now))
        limiter.done()

    await limiter.wait_turn()  # this slot is taken: the others wait for the next ones
    await asyncio.gather(
        send("broadcast 1", Priority.BROADCAST),
        send("broadcast 2", Priority.BROADCAST),
        send("reply 1", Priority.REPLY),
        send("reply 2", Priority.REPLY),
    )
    assert [name for name, _at in granted] == ["reply 1", "reply 2", "broadcast 1", "broadcast 2"]
    assert [at for _name, at in granted] == pytest.approx([100.1, 100.2, 100.3, 100.4])


async def test_a_pause_holds_replies_and_broadcasts_alike() -> None:
    clock = VirtualClock()
    limiter = virtual_limiter(clock, rate=10.0)
    limiter.pause(RETRY_AFTER)
    granted: dict[Priority, float] = {}

    async def send(priority: Priority) -> None:
        await limiter.wait_turn(priority)
        granted[priority] = clock.now

    await asyncio.gather(send(Priority.REPLY), send(Priority.BROADCAST))
    assert granted[Priority.REPLY] == pytest.approx(100.0 + RETRY_AFTER)
    assert granted[Priority.BROADCAST] == pytest.approx(100.1 + RETRY_AFTER)


async def test_turns_never_exceed_the_rate_in_one_second_whoever_asks() -> None:
    clock = VirtualClock()
    limiter = virtual_limiter(clock, rate=5.0)
    starts: list[float] = []

    async def send(priority: Priority) -> None:
        await limiter.wait_turn(priority)
        starts.append(clock.now)
        limiter.done()

    await asyncio.gather(*(send(Priority(n % 2)) for n in range(40)))
    assert max_in_window(sorted(starts)) <= 5
    assert starts[-1] - starts[0] == pytest.approx(39 / 5.0)


async def test_a_reply_keeps_its_distance_from_a_broadcast_not_from_other_replies() -> None:
    clock = VirtualClock()
    limiter = virtual_limiter(clock, rate=30.0)
    limiter.note_sent("7", shared=False)  # a broadcast message to chat 7 now
    limiter.done("7", shared=False)

    await limiter.reply_turn("7", shared=False)
    assert clock.now == pytest.approx(101.0)
    limiter.done("7", False, Priority.REPLY)
    await limiter.reply_turn("7", shared=False)  # the answer's second part: a short burst
    assert clock.now == pytest.approx(101.0 + 1 / 30)
    limiter.done("7", False, Priority.REPLY)
    assert limiter.chat_delay("7", shared=False) == pytest.approx(1.0)  # a broadcast waits


async def test_a_groups_quota_counts_replies_and_broadcasts() -> None:
    clock = VirtualClock()
    limiter = virtual_limiter(clock, rate=30.0, group_per_minute=3)
    for _ in range(3):
        await limiter.reply_turn("-5", shared=True)
        limiter.done("-5", True, Priority.REPLY)
    assert limiter.chat_delay("-5", shared=True) > 59.0  # a broadcast to the group waits
    await limiter.reply_turn("-5", shared=True)  # and so does a fourth reply
    assert clock.now >= 160.0


async def test_a_cancelled_wait_takes_nothing_away() -> None:
    clock = VirtualClock()
    limiter = virtual_limiter(clock, rate=1.0)
    await limiter.wait_turn()
    limiter.done()
    waiting = asyncio.create_task(limiter.wait_turn(Priority.REPLY))
    await asyncio.sleep(0)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(limiter.wait_turn(), 5)
    assert clock.now == pytest.approx(101.0)


async def test_the_dispatcher_paces_with_the_transports_budget(
    storage: Storage, settings: Settings
) -> None:
    transport = ScriptedTransport("telegram")
    budget = SendLimiter(PlatformLimits(rate=7.0))
    transport.limiter = budget  # type: ignore[attr-defined]
    other = {"telegram": PlatformLimits(rate=9.0)}
    dispatcher = Dispatcher(storage, settings, load_core_topics(), {"telegram": transport})
    await dispatcher.start()
    try:
        assert dispatcher._senders["telegram"].limiter is budget
    finally:
        await dispatcher.stop()
    mismatched = Dispatcher(
        storage, settings, load_core_topics(), {"telegram": transport}, limits=other
    )
    with pytest.raises(ValueError, match="other limits"):
        await mismatched.start()
    await mismatched.stop()
