"""Counters of what the bot does, for `/metrics` (the Prometheus text format).

The services that do the work count it here: the dispatcher each send's outcome, the FAQ each
question's outcome, the core each reply's latency. One `Metrics` per running bot, with its own
registry (not prometheus_client's global one), so tests and benchmarks in one process never add
to each other's counts. Gauges about stored state (messages waiting, active chats) are not kept
here: they are read from the database when `/metrics` is scraped (bot/web/public.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from bot.storage import Storage

PLATFORMS = ("telegram", "matrix", "console")
FAQ_OUTCOMES = ("answered", "choice", "abstained")
# Seconds; an interactive reply is normally a few milliseconds, a slow database or a loaded
# machine shows in the upper buckets.
# The classic text format generate_latest() writes, which every Prometheus version reads.
EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REPLY_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The bot's counters and the reply-latency histogram, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages_sent = Counter(
            "ngo_bot_messages_sent",
            "Broadcast messages the platform accepted.",
            ["platform"],
            registry=self.registry,
        )
        self.messages_failed = Counter(
            "ngo_bot_messages_failed",
            "Broadcast messages given up on (a permanent error, or too many attempts).",
            ["platform"],
            registry=self.registry,
        )
        self.messages_retried = Counter(
            "ngo_bot_messages_retried",
            "Broadcast sends that will be tried again (rate limits, network errors).",
            ["platform"],
            registry=self.registry,
        )
        self.recipients_gone = Counter(
            "ngo_bot_recipients_gone",
            "Broadcast sends refused because the chat is gone (blocked, left, deleted).",
            ["platform"],
            registry=self.registry,
        )
        self.faq_questions = Counter(
            "ngo_bot_faq_questions",
            "Questions the FAQ was asked, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.reply_latency = Histogram(
            "ngo_bot_reply_latency_seconds",
            "Time the core took to answer an incoming message.",
            buckets=REPLY_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Every known label from the start: a series that exists at 0 makes rate() correct
        # from the first scrape on.
        for platform in PLATFORMS:
            for counter in self.platform_counters():
                counter.labels(platform=platform)
        for outcome in FAQ_OUTCOMES:
            self.faq_questions.labels(outcome=outcome)

    def platform_counters(self) -> tuple[Counter, ...]:
        return (
            self.messages_sent,
            self.messages_failed,
            self.messages_retried,
            self.recipients_gone,
        )

    def send_outcome(self, platform: str, state: str) -> None:
        """Count one broadcast send by the state it left its outbox row in: 'sent', 'failed',
        'retrying' or 'gone' (others, such as a row released unsent, are not sends)."""
        counter = {
            "sent": self.messages_sent,
            "failed": self.messages_failed,
            "retrying": self.messages_retried,
            "gone": self.recipients_gone,
        }.get(state)
        if counter is not None:
            counter.labels(platform=platform).inc()

    def faq_question(self, outcome: str) -> None:
        """Count one FAQ outcome: 'answered', 'choice' or 'abstained'."""
        if outcome not in FAQ_OUTCOMES:
            raise ValueError(f"unknown FAQ outcome {outcome!r}")
        self.faq_questions.labels(outcome=outcome).inc()

    def reply_took(self, seconds: float) -> None:
        self.reply_latency.observe(max(0.0, seconds))


# --- gauges read from the database at scrape time ----------------------------------------------


@dataclass(frozen=True)
class StoredGauges:
    """What the database says at one moment: messages waiting, active chats per platform."""

    outbox_pending: int
    active_chats: Mapping[str, int]


async def read_stored_gauges(storage: Storage) -> StoredGauges:
    """Read the gauges of /metrics (two counting queries)."""
    return StoredGauges(
        outbox_pending=await storage.outbox.open_count(),
        active_chats=await storage.chats.active_by_platform(),
    )


class StoredGaugesCollector(Collector):
    """One scrape's gauges as Prometheus metric families."""

    def __init__(self, gauges: StoredGauges) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily(
            "ngo_bot_outbox_pending",
            "Broadcast messages waiting or being sent (pending, retrying, claimed).",
        )
        pending.add_metric([], self.gauges.outbox_pending)
        yield pending
        active = GaugeMetricFamily(
            "ngo_bot_active_chats",
            "Chats that receive broadcasts, by platform.",
            labels=["platform"],
        )
        for platform in sorted({*PLATFORMS, *self.gauges.active_chats}):
            active.add_metric([platform], self.gauges.active_chats.get(platform, 0))
        yield active


def exposition(metrics: Metrics, gauges: StoredGauges) -> bytes:
    """The whole /metrics page in the Prometheus text format: the counters, then the gauges."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(StoredGaugesCollector(gauges))
    return generate_latest(metrics.registry) + generate_latest(scrape)
