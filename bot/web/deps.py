"""What the web handlers get: the bot's services, its settings and its clock (`WebDeps`).

Handlers read `request.app[DEPS]` and call services and stores; they hold no SQL and no
platform SDK. Pages render with `request.app[TEMPLATES]` (Jinja2, autoescaping on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import jinja2
from aiohttp import web

from bot.announcements.service import AnnouncementService
from bot.clock import utcnow
from bot.config import Settings
from bot.core.service import Core
from bot.core.topics import Topics
from bot.metrics import Metrics
from bot.storage import Storage

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class WebDeps:
    """Everything a web handler may use, built once per running bot (`WebDeps.for_core`)."""

    settings: Settings
    storage: Storage
    core: Core
    announcements: AnnouncementService
    metrics: Metrics = field(default_factory=Metrics)
    clock: Clock = utcnow

    @classmethod
    def for_core(cls, core: Core, metrics: Metrics | None = None, clock: Clock = utcnow) -> WebDeps:
        """The dependencies over a core (its storage, settings and topics)."""
        return cls(
            settings=core.settings,
            storage=core.storage,
            core=core,
            announcements=AnnouncementService(core.storage, core.settings, core.topics, clock),
            metrics=metrics if metrics is not None else Metrics(),
            clock=clock,
        )

    @property
    def topics(self) -> Topics:
        return self.core.topics

    @property
    def base_url(self) -> str:
        """The public base URL of links (BOT_WEB_URL, else http:// + BOT_WEB_LISTEN)."""
        return self.settings.web_base_url or ""


DEPS = web.AppKey("deps", WebDeps)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
