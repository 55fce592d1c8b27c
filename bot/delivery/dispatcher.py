"""The dispatcher: publishes due announcements, claims due outbox rows, sends them, records.

One loop per platform claims a batch of due rows for that platform's chats (one transaction),
sends them through the platform's transport at its pace, at most `concurrency` in flight, and
writes the outcomes in batches (one transaction per `flush_size` outcomes or `flush_interval`
seconds). A housekeeping loop, about every second, puts back rows whose claim outlived the lease
(their sender died), publishes scheduled announcements that fell due (the CLI may have written
them from another process) and closes finished broadcasts.

A crash between sending and recording repeats at most the rows that were claimed and not yet
recorded; it never loses one. `send()` of a transport is the only contact with a platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.announcements.model import Announcement, Status
from bot.announcements.render import Purpose, Rendered, render_cancelled, render_message
from bot.clock import utcnow
from bot.config import Settings
from bot.core.context import command_prefix
from bot.core.messages import Button, Reply
from bot.core.topics import Topics
from bot.delivery.limits import PlatformLimits, SendLimiter, limits_for
from bot.delivery.owner import new_owner, owner_is_gone
from bot.i18n import _, use_language
from bot.metrics import Metrics
from bot.reminders.quiet import near_quiet_hours
from bot.storage import Storage
from bot.storage.outbox import GONE_DETAIL, Action, ClaimedMessage, Settled, State
from bot.transports.base import EditingTransport, OutcomeKind, SendOutcome, Transport

log = logging.getLogger(__name__)

# A row that rewrites an earlier message instead of sending one (detail: its id and new text).
EDIT_PURPOSE = "edit"
# A question's post into a staff chat: the id of the message it became is kept.
QUESTION_PURPOSE = "question"
# Platforms whose messages can carry a copy-to-clipboard button.
COPY_BUTTON_PLATFORMS = frozenset({"telegram"})

Clock = Callable[[], datetime]
# An edit or delete of a post whose publication is still being sent waits this long.
POST_IN_FLIGHT_WAIT = timedelta(seconds=5)
NO_POST_DETAIL = "no post to change"


@dataclass(frozen=True)
class DeliveryPolicy:
    """Timings and sizes of the dispatcher (defaults for production; tests shrink them)."""

    poll_interval: float = 1.0
    lease: float = 60.0
    # 8 tries span about 32 minutes (15 s doubling): a Telegram outage of that length loses nothing.
    max_attempts: int = 8
    backoff_base: float = 15.0
    backoff_cap: float = 3600.0
    claim_size: int = 500
    flush_size: int = 100
    flush_interval: float = 0.25
    concurrency: int = 2
    stop_timeout: float = 10.0

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1` after a transient error (exponential, capped)."""
        return float(min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempts - 1)))

    def claim_size_for(self, limits: PlatformLimits) -> int:
        """About two seconds of sending, so that a cancel stops a broadcast quickly."""
        if limits.rate is None:
            return self.claim_size
        return max(10, min(self.claim_size, int(limits.rate * 2)))


class Dispatcher:
    """A Service of BotRuntime: start() launches its loops, stop() lets in-flight sends finish."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        topics: Topics,
        transports: Mapping[str, Transport],
        *,
        policy: DeliveryPolicy | None = None,
        limits: Mapping[str, PlatformLimits] | None = None,
        clock: Clock = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self._storage = storage
        # Each send's outcome is counted here (the running bot's metrics, for /metrics).
        self.metrics = metrics if metrics is not None else Metrics()
        self._settings = settings
        self._topics = topics
        self._transports = transports
        self._policy = policy or DeliveryPolicy()
        self._limits = dict(limits or {})
        self._clock = clock
        self._owner = new_owner()
        self._stopping = asyncio.Event()
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._senders: dict[str, PlatformSender] = {}

    async def start(self) -> None:
        """Re-queue abandoned claims and publish what is due, then start the loops."""
        self._stopping.clear()
        await self.take_back_claims_of_dead_senders()
        await self.housekeeping()
        for platform, transport in self._transports.items():
            self._senders[platform] = PlatformSender(
                transport,
                self._limiter_for(platform, transport),
                storage=self._storage,
                settings=self._settings,
                topics=self._topics,
                policy=self._policy,
                clock=self._clock,
                owner=self._owner,
                stopping=self._stopping,
                metrics=self.metrics,
            )
            self._wake[platform] = asyncio.Event()
            self._tasks.append(
                asyncio.create_task(self._platform_loop(platform), name=f"deliver-{platform}")
            )
        self._tasks.append(asyncio.create_task(self._housekeeping_loop(), name="outbox"))

    def _limiter_for(self, platform: str, transport: Transport) -> SendLimiter:
        """The transport's own budget when it has one (its replies share it), else a new one."""
        configured = self._limits.get(platform)
        shared = getattr(transport, "limiter", None)
        if not isinstance(shared, SendLimiter):
            return SendLimiter(configured or limits_for(platform, self._settings))
        if configured is not None and configured != shared.limits:
            raise ValueError(
                f"{platform}: the transport's limiter has other limits than {configured}"
            )
        return shared

    async def stop(self) -> None:
        """Finish the messages in flight, record them, give back the rest of the claims."""
        self._stopping.set()
        for event in self._wake.values():
            event.set()
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(self._tasks, timeout=self._policy.stop_timeout)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def deliver_due(self) -> int:
        """Publish what is due and send every due row now, in this task; return rows claimed.

        For a short-lived process (a console chat) that must not show its inbox before the
        messages already waiting for it have been put there.
        """
        await self.housekeeping()
        claimed_total = 0
        for platform, sender in self._senders.items():
            while not sender.limiter.paused_for():
                claimed = await self._claim_and_deliver(platform)
                if not claimed:
                    break
                claimed_total += claimed
        return claimed_total

    def wake(self) -> None:
        """Look for due rows now instead of at the next poll."""
        for event in self._wake.values():
            event.set()

    # --- housekeeping -----------------------------------------------------------------------

    async def take_back_claims_of_dead_senders(self) -> int:
        """Put back at once the claims of a dispatcher process of this host that has died.

        After a crash and a restart the broadcast goes on now, not when the lease expires.
        """
        requeued = 0
        for owner in await self._storage.outbox.claim_owners():
            if owner != self._owner and owner_is_gone(owner):
                requeued += await self._storage.outbox.requeue_claims_of(owner)
        if requeued:
            log.warning("re-queued %d messages claimed by a process that died", requeued)
        return requeued

    async def housekeeping(self) -> None:
        """Re-queue expired claims, publish due announcements, close finished broadcasts."""
        now = self._clock()
        # A batch of ours being sent may outlive the lease (a slow server): it is not abandoned.
        busy = any(sender.busy for sender in self._senders.values())
        requeued = await self._storage.outbox.requeue_expired(
            now - timedelta(seconds=self._policy.lease), spare=self._owner if busy else None
        )
        if requeued:
            log.warning(
                "re-queued %d messages whose sender stopped before recording them", requeued
            )
        published = await self._storage.announcements.publish_due(now)
        for announcement_id in published:
            log.info("published announcement #%d", announcement_id)
        finished = await self._storage.outbox.finish_broadcasts(now)
        if requeued or published or finished:
            self.wake()

    async def _housekeeping_loop(self) -> None:
        while not self._stopping.is_set():
            await self._sleep(self._policy.poll_interval)
            if self._stopping.is_set():
                break
            try:
                await self.housekeeping()
            except Exception:
                log.exception("outbox housekeeping failed; trying again")

    # --- sending ----------------------------------------------------------------------------

    def quiet_now(self) -> bool:
        """Whether BOT_QUIET_HOURS hold now: then only urgent messages go out."""
        hours = self._settings.quiet_hours
        if hours is None:
            return False
        return hours.contains(self._clock().astimezone(self._settings.timezone).time())

    async def _claim_and_deliver(self, platform: str) -> int:
        """Claim one batch of due rows for the platform and send it; return its size."""
        sender = self._senders[platform]
        # Busy from the claim on: housekeeping must not take back a batch claimed a moment ago
        # whose sending has not started yet (a loaded machine, a short lease).
        sender.busy = True
        try:
            claimed = await self._storage.outbox.claim(
                platform,
                self._policy.claim_size_for(sender.limiter.limits),
                self._clock(),
                owner=self._owner,
                urgent_only=self.quiet_now(),
            )
            if claimed:
                await sender.deliver(claimed)
        finally:
            sender.busy = False
        return len(claimed)

    async def _platform_loop(self, platform: str) -> None:
        sender = self._senders[platform]
        wake = self._wake[platform]
        while not self._stopping.is_set():
            try:
                pause = sender.limiter.paused_for()
                if pause > 0:
                    await self._sleep(pause)
                    continue
                wake.clear()
                if not await self._claim_and_deliver(platform):
                    await self._wait(wake, self._policy.poll_interval)
            except Exception:
                log.exception("delivery on %s failed; trying again", platform)
                await self._sleep(self._policy.poll_interval)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when stopping."""
        await self._wait(self._stopping, seconds)

    async def _wait(self, event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=seconds)


@dataclass
class Batch:
    """One claimed batch being sent, and what was learnt while sending it."""

    queue: deque[ClaimedMessage]
    announcements: dict[int, Announcement]
    # Announcements cancelled since the claim (re-read at each flush): their rows are skipped.
    cancelled: set[int]
    gone: set[int] = field(default_factory=set)
    rendered: dict[tuple[int, str, bool], Reply] = field(default_factory=dict)
    # Sent just outside the quiet hours (decided once per batch: about two seconds of sending).
    near_quiet: bool = False


class PlatformSender:
    """Sends claimed rows of one platform: pacing, outcomes, retries, and recording in batches."""

    def __init__(
        self,
        transport: Transport,
        limiter: SendLimiter,
        *,
        storage: Storage,
        settings: Settings,
        topics: Topics,
        policy: DeliveryPolicy,
        clock: Clock,
        owner: str,
        stopping: asyncio.Event,
        metrics: Metrics,
    ) -> None:
        self._transport = transport
        self._metrics = metrics
        self.limiter = limiter
        self._storage = storage
        self._settings = settings
        self._topics = topics
        self._policy = policy
        self._clock = clock
        self._owner = owner
        self._stopping = stopping
        self._pending: list[Settled] = []
        self._last_flush = 0.0
        # The outcomes being written while the workers go on sending (one write at a time).
        self._recording: asyncio.Task[None] | None = None
        self.busy = False  # a claimed batch is being sent

    @property
    def platform(self) -> str:
        return self._transport.platform

    async def deliver(self, claimed: list[ClaimedMessage]) -> None:
        """Send a claimed batch; whatever is not sent (pause, stop) goes back to the queue."""
        self.busy = True
        try:
            await self._deliver(claimed)
        finally:
            self.busy = False

    async def _deliver(self, claimed: list[ClaimedMessage]) -> None:
        announcements = await self._storage.announcements.get_many(
            {m.announcement_id for m in claimed if m.announcement_id is not None}
        )
        batch = Batch(
            queue=deque(claimed),
            announcements=announcements,
            cancelled={a.id for a in announcements.values() if a.status is Status.CANCELLED},
            near_quiet=near_quiet_hours(
                self._clock(), self._settings.quiet_hours, self._settings.timezone
            ),
        )
        self._last_flush = asyncio.get_running_loop().time()

        async def work() -> None:
            while batch.queue and not self._stopping.is_set() and not self.limiter.paused_for():
                message = batch.queue.popleft()
                settled = await self._deliver_one(message, batch)
                if settled is None:
                    batch.queue.appendleft(message)
                    return
                self._pending.append(settled)
                self._maybe_flush(batch)

        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(self._policy.concurrency):
                    workers.create_task(work())
        finally:
            await self._recorded()
            now = self._clock()
            self._pending.extend(release(message, now) for message in batch.queue)
            await self._flush(batch)

    async def _deliver_one(self, message: ClaimedMessage, batch: Batch) -> Settled | None:
        """Send one row and say how it went; None when the platform paused before sending."""
        now = self._clock()
        if message.chat_ref in batch.gone:
            return Settled(
                message.id, message.chat_ref, State.CANCELLED, attempted=False, detail=GONE_DETAIL
            )
        # A weekly digest belongs to no announcement: its text was written with its row.
        announcement = None
        if message.announcement_id is not None:
            announcement = batch.announcements.get(message.announcement_id)
            cancelled = message.announcement_id in batch.cancelled
            goes_on = message.purpose == Purpose.SUMMARY or message.action is Action.DELETE
            if announcement is None or (cancelled and not goes_on):
                return Settled(message.id, message.chat_ref, State.CANCELLED, attempted=False)
        if message.action is not Action.SEND:
            if message.target_state == State.CLAIMED:
                return release(message, now + POST_IN_FLIGHT_WAIT)  # its post may be going out
            if message.target_message_id is None:
                return Settled(
                    message.id,
                    message.chat_ref,
                    State.CANCELLED,
                    attempted=False,
                    detail=NO_POST_DETAIL,
                )
        # Keyed by the platform's chat id: the transport's replies count in the same budget
        # (a thread, a forum topic, counts in its group's).
        chat, shared = message.chat_id.partition("#")[0], message.chat_kind.is_shared
        delay = self.limiter.chat_delay(chat, shared)
        if delay > 0:
            return release(message, now + timedelta(seconds=delay))
        # Counted before waiting for a slot, so the other worker cannot pick the same chat.
        self.limiter.note_sent(chat, shared)
        # Rendered before the slot (the first one of a language loads its locale data), so that
        # the send leaves when its slot comes.
        reply = self._render(message, announcement, batch)
        await self.limiter.wait_turn()
        try:
            if self.limiter.paused_for():
                return None
            outcome = await self._send(message, quieted(message, reply, batch.near_quiet))
        finally:
            self.limiter.done(chat, shared)
        settled = self._settle(message, outcome)
        self._metrics.send_outcome(self.platform, settled.state)
        if settled.state is State.GONE:
            batch.gone.add(message.chat_ref)
        if message.is_channel and settled.state is State.SENT:
            # Recorded at once, not with the batch: a crash now must not post it again.
            # (Written again with the batch, that second write changes nothing.)
            await self._storage.outbox.settle([settled], self._clock(), owner=self._owner)
        return settled

    def _render(
        self, message: ClaimedMessage, announcement: Announcement | None, batch: Batch
    ) -> Reply:
        """The message in the chat's language (rendered once per broadcast and language)."""
        if announcement is None:
            return Reply(message.detail)
        language = message.language or self._settings.default_language
        if message.action is Action.DELETE:
            return Reply(render_cancelled(announcement.fields, language))
        key = (message.broadcast_id, language, message.is_channel)
        reply = batch.rendered.get(key)
        if reply is None:
            # A channel post's edit shows the corrected publication, not a correction notice.
            purpose = Purpose.PUBLICATION if message.action is Action.EDIT else message.purpose
            rendered = render_message(
                announcement,
                Purpose(purpose),
                message.detail,
                language,
                self._topics,
                self._settings.timezone,
                prefix=command_prefix(self.platform),
                channel=message.is_channel,
            )
            reply = batch.rendered[key] = self._reply(rendered, language)
        return reply

    def _reply(self, rendered: Rendered, language: str) -> Reply:
        """The rendered message as this platform sends it: KRS copy buttons where it has them."""
        buttons: tuple[tuple[Button, ...], ...] = ()
        if self.platform in COPY_BUTTON_PLATFORMS and rendered.krs:
            with use_language(language):
                buttons = tuple(
                    (Button(_("📋 Copy KRS {number}").format(number=number), "", copy_text=number),)
                    for number in rendered.krs
                )
        return Reply(rendered.text, buttons=buttons, link_preview=rendered.preview)

    async def _send(self, message: ClaimedMessage, reply: Reply) -> SendOutcome:
        """The transport's verdict; an exception from it counts as a transient error."""
        try:
            if message.purpose == EDIT_PURPOSE:
                return await self._edit(message)
            if message.action is Action.SEND:
                return await self._transport.send(message.chat_id, reply)
            return await self._change(message, reply)
        except Exception as exc:
            log.exception(
                "transport %s raised while sending outbox row %d", self.platform, message.id
            )
            return SendOutcome.retry(None, f"{type(exc).__name__}")

    async def _edit(self, message: ClaimedMessage) -> SendOutcome:
        """Rewrite an earlier message (its id and new text in the row's detail), where the
        platform can edit; elsewhere there is nothing to do."""
        edit = getattr(self._transport, "edit", None)
        try:
            target = json.loads(message.detail)
            message_id, text = str(target["message_id"]), str(target["text"])
        except (ValueError, KeyError, TypeError):
            return SendOutcome.failed("an edit row without a message id and text")
        if edit is None:
            return SendOutcome.sent()
        outcome: SendOutcome = await edit(message.chat_id, message_id, Reply(text))
        return outcome

    async def _change(self, message: ClaimedMessage, reply: Reply) -> SendOutcome:
        """Edit or delete the chat's post of the publication."""
        transport = self._transport
        target = message.target_message_id
        if not isinstance(transport, EditingTransport) or target is None:
            return SendOutcome.failed(f"{self.platform} cannot change a message it sent")
        if message.action is Action.EDIT:
            return await transport.edit(message.chat_id, target, reply)
        return await transport.delete(message.chat_id, target, reply)

    def _settle(self, message: ClaimedMessage, outcome: SendOutcome) -> Settled:
        now = self._clock()
        if outcome.kind is OutcomeKind.SENT:
            # A channel post's id is kept (it is edited or deleted later), and a question's
            # post in a staff chat (a staff member's reply to it is matched by it).
            keep = message.purpose == QUESTION_PURPOSE or (
                message.is_channel and message.action is Action.SEND
            )
            return Settled(
                message.id,
                message.chat_ref,
                State.SENT,
                detail=outcome.detail,
                platform_message_id=outcome.message_id if keep else None,
            )
        if outcome.kind is OutcomeKind.GONE:
            log.info(
                "%s:%s is gone (%s); marked inactive",
                self.platform,
                message.chat_id,
                outcome.detail,
            )
            return Settled(message.id, message.chat_ref, State.GONE, detail=outcome.detail)
        if outcome.kind is OutcomeKind.FAILED:
            log.warning(
                "outbox row %d to %s:%s failed: %s",
                message.id,
                self.platform,
                message.chat_id,
                outcome.detail,
            )
            return Settled(message.id, message.chat_ref, State.FAILED, detail=outcome.detail)
        if outcome.retry_after is not None:
            # Flood control is about the sender, not this message: pause the whole platform.
            log.warning(
                "%s asks to wait %.1f s; pausing its sends", self.platform, outcome.retry_after
            )
            self.limiter.pause(outcome.retry_after)
            return Settled(
                message.id,
                message.chat_ref,
                State.RETRYING,
                next_attempt_at=now + timedelta(seconds=outcome.retry_after),
                attempted=False,
                detail=outcome.detail,
            )
        attempts = message.attempts + 1
        if attempts >= self._policy.max_attempts:
            log.warning(
                "outbox row %d to %s:%s failed after %d attempts: %s",
                message.id,
                self.platform,
                message.chat_id,
                attempts,
                outcome.detail,
            )
            return Settled(message.id, message.chat_ref, State.FAILED, detail=outcome.detail)
        return Settled(
            message.id,
            message.chat_ref,
            State.RETRYING,
            next_attempt_at=now + timedelta(seconds=self._policy.backoff(attempts)),
            detail=outcome.detail,
        )

    def _maybe_flush(self, batch: Batch) -> None:
        """Start writing the gathered outcomes when enough are due; sending goes on meanwhile.

        A worker that waited for the write would halve the sending for its duration.
        """
        if self._recording is not None:
            if not self._recording.done():
                return
            recording, self._recording = self._recording, None
            recording.result()  # a failed write stops the batch here (its outcomes are kept)
        elapsed = asyncio.get_running_loop().time() - self._last_flush
        if len(self._pending) >= self._policy.flush_size or elapsed >= self._policy.flush_interval:
            self._recording = asyncio.create_task(self._flush(batch), name="outbox-record")

    async def _recorded(self) -> None:
        """Wait for the write in progress (its failure is logged: the final write retries)."""
        recording, self._recording = self._recording, None
        if recording is None:
            return
        try:
            await recording
        except Exception:
            log.exception("recording %s outcomes failed; trying again", self.platform)

    async def _flush(self, batch: Batch) -> None:
        """Record the outcomes gathered so far in one transaction; notice cancellations."""
        outcomes, self._pending = self._pending, []
        self._last_flush = asyncio.get_running_loop().time()
        if not outcomes:
            return
        try:
            await self._storage.outbox.settle(outcomes, self._clock(), owner=self._owner)
        except BaseException:
            self._pending[:0] = outcomes  # kept for the next write
            raise
        batch.cancelled |= await self._storage.announcements.cancelled_among(
            batch.announcements.keys()
        )


def quieted(message: ClaimedMessage, reply: Reply, near_quiet: bool) -> Reply:
    """Without a sound when sent just outside the quiet hours, unless urgent (or a summary)."""
    if not near_quiet or message.urgent or message.purpose == Purpose.SUMMARY:
        return reply
    return replace(reply, silent=True)


def release(message: ClaimedMessage, not_before: datetime) -> Settled:
    """Give a row back unsent: it keeps its state (pending, or retrying after an error)."""
    state = State.RETRYING if message.attempts else State.PENDING
    return Settled(message.id, message.chat_ref, state, next_attempt_at=not_before, attempted=False)
