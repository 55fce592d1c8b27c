"""Endpoints without login: the calendar feeds, `/healthz` and `/metrics`.

The feeds are what `ngo-bot calendar export` writes (the same service call), with an ETag (a
hash of the content) and a Last-Modified (when this process first served that content), so a
calendar application that polls gets 304 until something changes. `/healthz` is the decision of
`ngo-bot health`. `/metrics` is on only with BOT_METRICS_TOKEN (secure by default: it tells
how many people use the bot and how broadcasts go) and then requires it as a bearer token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from bot.announcements.agenda import FEED_PATH, TOPIC_FEED_PATH
from bot.config import LANGUAGES
from bot.health import check_health
from bot.metrics import EXPOSITION_CONTENT_TYPE, exposition, read_stored_gauges
from bot.web.deps import DEPS, WebDeps

log = logging.getLogger(__name__)

TEXT = "text/plain"
CALENDAR_TYPE = "text/calendar"
# Calendar applications poll; each poll revalidates (a 304 costs one small answer).
FEED_CACHE_CONTROL = "no-cache"


def add_public_routes(app: web.Application, deps: WebDeps) -> None:
    """Register the public routes on the application."""
    app[FEED_VERSIONS] = FeedVersions()
    app.router.add_get(FEED_PATH, calendar_feed, name="calendar")
    app.router.add_get(
        TOPIC_FEED_PATH.replace("{topic}", "{topic:[a-z0-9_-]+}"),
        calendar_feed,
        name="topic-calendar",
    )
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/metrics", metrics, name="metrics")
    if deps.settings.metrics_token is None:
        log.info("/metrics is off: set BOT_METRICS_TOKEN to scrape it")


# --- the calendar feeds ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeedVersion:
    etag: str  # without quotes
    last_modified: datetime  # whole seconds, as HTTP dates are


class FeedVersions:
    """Each feed's current version: its content's hash, and when this process first served it.

    Only the latest version of each feed is kept (a few feeds, a few bytes each): content that
    changes back to an earlier state gets a new Last-Modified, so If-Modified-Since never
    answers 304 to a client holding other content. A change within the second of the previous
    one is dated a second later, so each version's date is strictly later than the one before.
    """

    def __init__(self) -> None:
        self._latest: dict[tuple[str | None, str], FeedVersion] = {}

    def version(self, key: tuple[str | None, str], data: bytes, now: datetime) -> FeedVersion:
        etag = hashlib.sha256(data).hexdigest()[:32]
        known = self._latest.get(key)
        if known is not None and known.etag == etag:
            return known
        moment = now.replace(microsecond=0)
        if known is not None and moment <= known.last_modified:
            moment = known.last_modified + timedelta(seconds=1)
        version = FeedVersion(etag, moment)
        self._latest[key] = version
        return version


FEED_VERSIONS = web.AppKey("feed_versions", FeedVersions)


def not_modified(request: web.Request, version: FeedVersion) -> bool:
    """RFC 9110: If-None-Match decides when present (weak comparison), else If-Modified-Since."""
    tags = request.if_none_match
    if tags is not None:
        return any(tag.value in ("*", version.etag) for tag in tags)
    since = request.if_modified_since
    return since is not None and version.last_modified <= since


async def calendar_feed(request: web.Request) -> web.StreamResponse:
    """`/calendar.ics` and `/calendar/<topic>.ics`; `?lang=uk` for titles in another language."""
    deps = request.app[DEPS]
    topic = request.match_info.get("topic")
    if topic is not None and deps.topics.get(topic) is None:
        raise web.HTTPNotFound(text=f"There is no topic {topic!r}.\n")
    language = request.query.get("lang", deps.settings.default_language)
    if language not in LANGUAGES:
        raise web.HTTPBadRequest(text=f"lang must be one of {', '.join(LANGUAGES)}.\n")
    data = await deps.announcements.calendar(language, topic)
    version = request.app[FEED_VERSIONS].version((topic, language), data, deps.clock())
    response = web.Response(status=304) if not_modified(request, version) else feed(data)
    response.etag = version.etag
    response.last_modified = version.last_modified
    response.headers["Cache-Control"] = FEED_CACHE_CONTROL
    return response


def feed(data: bytes) -> web.Response:
    return web.Response(body=data, content_type=CALENDAR_TYPE, charset="utf-8")


# --- health -----------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    """The decision of `ngo-bot health`: 200 with its line, or 503 naming what is late."""
    deps = request.app[DEPS]
    verdict = await check_health(deps.storage, deps.clock(), deps.settings.health_poll_seconds)
    return web.Response(
        status=200 if verdict.healthy else 503,
        text=verdict.line + "\n",
        content_type=TEXT,
        headers={"Cache-Control": "no-store"},
    )


# --- metrics ----------------------------------------------------------------------------------


def bearer_token_matches(request: web.Request, token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>` (compared in constant time)."""
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))


async def metrics(request: web.Request) -> web.Response:
    """The counters and the stored gauges in the Prometheus text format (bearer token)."""
    deps = request.app[DEPS]
    token = deps.settings.metrics_token
    if token is None:
        raise web.HTTPNotFound(text="/metrics is off: the operator sets BOT_METRICS_TOKEN.\n")
    if not bearer_token_matches(request, token):
        raise web.HTTPUnauthorized(
            text="/metrics needs Authorization: Bearer <BOT_METRICS_TOKEN>.\n",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    gauges = await read_stored_gauges(deps.storage)
    return web.Response(
        body=exposition(deps.metrics, gauges),
        headers={"Content-Type": EXPOSITION_CONTENT_TYPE, "Cache-Control": "no-store"},
    )
