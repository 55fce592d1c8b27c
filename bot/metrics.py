"""Counters of what the bot does, for `/metrics` (the Prometheus text format).

The services that do the work count it here: the dispatcher each send's outcome, the FAQ each
question's outcome, the core each reply's latency. One `Metrics` per running bot, with its own
registry (not prometheus_client's global one), so tests and benchmarks in one process never add
to each other's counts. Gauges about stored state (messages waiting, active chats) are not kept
here: they are read from the database when `/metrics` is scraped (bot/web/public.py).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

PLATFORMS = ("telegram", "matrix", "console")
FAQ_OUTCOMES = ("answered", "choice", "abstained")
# Seconds; an interactive reply is normally a few milliseconds, a slow database or a loaded
# machine shows in the upper buckets.
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

    def sent(self, platform: str) -> None:
        self.messages_sent.labels(platform=platform).inc()

    def failed(self, platform: str) -> None:
        self.messages_failed.labels(platform=platform).inc()

    def retried(self, platform: str) -> None:
        self.messages_retried.labels(platform=platform).inc()

    def gone(self, platform: str) -> None:
        self.recipients_gone.labels(platform=platform).inc()

    def faq_question(self, outcome: str) -> None:
        """Count one FAQ outcome: 'answered', 'choice' or 'abstained'."""
        if outcome not in FAQ_OUTCOMES:
            raise ValueError(f"unknown FAQ outcome {outcome!r}")
        self.faq_questions.labels(outcome=outcome).inc()

    def reply_took(self, seconds: float) -> None:
        self.reply_latency.observe(max(0.0, seconds))
