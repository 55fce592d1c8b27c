"""Settings from the environment (the contract in ARCHITECTURE.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGUAGES = ("pl", "uk", "en")
DEFAULT_DB = Path("data/ngo-bot.sqlite3")
DEFAULT_QUIET_HOURS = "21:00-08:00"
DEFAULT_TELEGRAM_MAX_RATE = 25.0
DEFAULT_WEBHOOK_LISTEN = "0.0.0.0:8443"
# How long a network transport may go without a completed poll or sync before health fails.
DEFAULT_HEALTH_POLL_SECONDS = 120.0
# Open questions for the office older than this are listed once a working day in the staff chats.
DEFAULT_QUESTION_REMIND = "48h"
STAFF_CHAT_PLATFORMS = ("telegram", "matrix", "console")
WEB_URL_SCHEMES = ("http://", "https://")


class ConfigError(ValueError):
    """A setting has a value the bot cannot use; the message names the variable."""


# A topic slug (as in topics.toml) or '*' (every topic); a channel's @username (5-32 letters,
# digits and underscores, starting with a letter) or its numeric id (-100...).
_CHANNEL_TOPIC = re.compile(r"^(\*|[a-z][a-z0-9_-]{0,31})$")
_CHANNEL_ADDRESS = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{4,31}|-100\d{1,16})$")
ANY_TOPIC = "*"


@dataclass(frozen=True)
class ChannelRoute:
    """One TELEGRAM_CHANNELS entry: announcements of `topic` ('*': any) go to `channel`."""

    topic: str
    channel: str  # '@username' or '-100...'
    language: str | None  # None: the channel's language named elsewhere, else Polish


@dataclass(frozen=True)
class QuietHours:
    """Local hours when broadcasts wait; may wrap around midnight (21:00-08:00)."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Whether a local wall-clock time falls inside the quiet hours."""
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment. Secrets are kept out of repr()."""

    db_path: Path = DEFAULT_DB
    admins: frozenset[str] = frozenset()
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Warsaw"))
    default_language: str = "pl"
    quiet_hours: QuietHours | None = None
    content_dir: Path | None = None
    operator: str | None = None
    log_level: str = "INFO"
    health_poll_seconds: float = DEFAULT_HEALTH_POLL_SECONDS
    # 'telegram:<chat id>', 'matrix:<room id>', 'console:<name>': where questions for the office
    # go (in the order given); none: the feature is off.
    staff_chats: tuple[str, ...] = ()
    question_remind: timedelta = timedelta(hours=48)
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_base_url: str | None = None
    telegram_max_rate: float = DEFAULT_TELEGRAM_MAX_RATE
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_webhook_listen: tuple[str, int] = ("0.0.0.0", 8443)
    telegram_channels: tuple[ChannelRoute, ...] = ()
    matrix_homeserver: str | None = None
    matrix_user_id: str | None = None
    matrix_password: str | None = field(default=None, repr=False)
    matrix_access_token: str | None = field(default=None, repr=False)
    matrix_allowed_servers: frozenset[str] = frozenset()
    # The web server (BOT_WEB_LISTEN; None: off), the base of the links it hands out, and the
    # bearer token /metrics requires when set.
    web_listen: tuple[str, int] | None = None
    web_url: str | None = None
    metrics_token: str | None = field(default=None, repr=False)
    matrix_e2ee: bool = True
    matrix_store_dir: Path | None = None

    @property
    def matrix_store_path(self) -> Path:
        """MATRIX_STORE_DIR, else a folder beside BOT_DB: /data/ngo-bot.sqlite3 keeps its
        Matrix encryption keys in /data/ngo-bot-matrix-store/."""
        if self.matrix_store_dir is not None:
            return self.matrix_store_dir
        return self.db_path.with_name(f"{self.db_path.stem}-matrix-store")

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def matrix_enabled(self) -> bool:
        return bool(self.matrix_homeserver)

    @property
    def questions_enabled(self) -> bool:
        """Whether questions can be sent to the office (BOT_STAFF_CHATS is set)."""
        return bool(self.staff_chats)

    @property
    def web_enabled(self) -> bool:
        return self.web_listen is not None

    @property
    def web_base_url(self) -> str | None:
        """Where people reach the web server (no trailing slash); None when it is off."""
        if self.web_listen is None:
            return None
        if self.web_url:
            return self.web_url
        host, port = self.web_listen
        return f"http://{host}:{port}"

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line."""
        values = (
            self.telegram_token,
            self.telegram_webhook_secret,
            self.matrix_password,
            self.matrix_access_token,
            self.metrics_token,
        )
        return tuple(v for v in values if v)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings; raise ConfigError naming the bad variable."""
        env = os.environ if env is None else env
        return cls(
            db_path=Path(_get(env, "BOT_DB") or DEFAULT_DB),
            admins=_parse_admins(_get(env, "BOT_ADMINS")),
            timezone=_parse_timezone(_get(env, "BOT_TIMEZONE") or "Europe/Warsaw"),
            default_language=_parse_language(_get(env, "BOT_DEFAULT_LANGUAGE") or "pl"),
            quiet_hours=parse_quiet_hours(_get(env, "BOT_QUIET_HOURS") or DEFAULT_QUIET_HOURS),
            content_dir=_parse_content_dir(_get(env, "BOT_CONTENT_DIR")),
            operator=_get(env, "BOT_OPERATOR"),
            log_level=_parse_log_level(_get(env, "BOT_LOG_LEVEL") or "INFO"),
            health_poll_seconds=_parse_health_poll_seconds(_get(env, "BOT_HEALTH_POLL_SECONDS")),
            staff_chats=parse_staff_chats(_get(env, "BOT_STAFF_CHATS")),
            question_remind=parse_question_remind(
                _get(env, "BOT_QUESTION_REMIND") or DEFAULT_QUESTION_REMIND
            ),
            telegram_token=_get(env, "TELEGRAM_BOT_TOKEN"),
            telegram_api_base_url=_get(env, "TELEGRAM_API_BASE_URL"),
            telegram_max_rate=_parse_rate(_get(env, "TELEGRAM_MAX_RATE")),
            telegram_webhook_url=_get(env, "TELEGRAM_WEBHOOK_URL"),
            telegram_webhook_secret=_get(env, "TELEGRAM_WEBHOOK_SECRET"),
            telegram_webhook_listen=_parse_listen(
                _get(env, "TELEGRAM_WEBHOOK_LISTEN") or DEFAULT_WEBHOOK_LISTEN
            ),
            telegram_channels=parse_channels(_get(env, "TELEGRAM_CHANNELS")),
            matrix_homeserver=_get(env, "MATRIX_HOMESERVER"),
            matrix_user_id=_get(env, "MATRIX_USER_ID"),
            matrix_password=_get(env, "MATRIX_PASSWORD"),
            matrix_access_token=_get(env, "MATRIX_ACCESS_TOKEN"),
            matrix_allowed_servers=_parse_list(_get(env, "MATRIX_ALLOWED_SERVERS")),
            web_listen=_parse_web_listen(_get(env, "BOT_WEB_LISTEN")),
            web_url=_parse_web_url(_get(env, "BOT_WEB_URL")),
            metrics_token=_get(env, "BOT_METRICS_TOKEN"),
            matrix_e2ee=_parse_on_off("MATRIX_E2EE", _get(env, "MATRIX_E2EE")),
            matrix_store_dir=_parse_store_dir(_get(env, "MATRIX_STORE_DIR")),
        )


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _parse_list(raw: str | None) -> frozenset[str]:
    if not raw:
        return frozenset()
    return frozenset(item.strip() for item in raw.split(",") if item.strip())


def _parse_on_off(name: str, raw: str | None) -> bool:
    """'on' (the default when unset) or 'off'; also the usual yes/no spellings."""
    if raw is None:
        return True
    value = raw.lower()
    if value in ("on", "1", "true", "yes"):
        return True
    if value in ("off", "0", "false", "no"):
        return False
    raise ConfigError(f"{name}: {raw!r} is not 'on' or 'off'")


def _parse_store_dir(raw: str | None) -> Path | None:
    if raw is None:
        return None
    path = Path(raw)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"MATRIX_STORE_DIR: {raw!r} is a file, not a folder")
    return path


def _parse_admins(raw: str | None) -> frozenset[str]:
    admins = _parse_list(raw)
    for identity in admins:
        platform, _sep, user = identity.partition(":")
        if platform not in ("telegram", "matrix", "console") or not user:
            raise ConfigError(
                f"BOT_ADMINS: {identity!r} is not 'telegram:<user id>', "
                "'matrix:<@user:server>' or 'console:<name>'"
            )
    return admins


def _parse_timezone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"BOT_TIMEZONE: unknown time zone {raw!r}") from exc


def _parse_language(raw: str) -> str:
    if raw not in LANGUAGES:
        raise ConfigError(f"BOT_DEFAULT_LANGUAGE: {raw!r} is not one of {', '.join(LANGUAGES)}")
    return raw


def parse_quiet_hours(raw: str) -> QuietHours | None:
    """Parse 'HH:MM-HH:MM' or 'off'."""
    if raw.lower() == "off":
        return None
    try:
        start_text, end_text = raw.split("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError as exc:
        raise ConfigError(f"BOT_QUIET_HOURS: {raw!r} is not 'HH:MM-HH:MM' or 'off'") from exc
    if start == end:
        raise ConfigError("BOT_QUIET_HOURS: start and end are equal; use 'off' to disable")
    return QuietHours(start, end)


def _parse_content_dir(raw: str | None) -> Path | None:
    if raw is None:
        return None
    path = Path(raw)
    if not path.is_dir():
        raise ConfigError(f"BOT_CONTENT_DIR: {raw!r} is not a folder")
    return path


def _parse_log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"BOT_LOG_LEVEL: {raw!r} is not DEBUG, INFO, WARNING or ERROR")
    return level


def _parse_rate(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_TELEGRAM_MAX_RATE
    try:
        rate = float(raw)
    except ValueError as exc:
        raise ConfigError(f"TELEGRAM_MAX_RATE: {raw!r} is not a number") from exc
    if not 0 < rate <= 1000:
        raise ConfigError("TELEGRAM_MAX_RATE: must be above 0 and at most 1000")
    return rate


def _parse_listen(raw: str, variable: str = "TELEGRAM_WEBHOOK_LISTEN") -> tuple[str, int]:
    host, _sep, port_text = raw.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{variable}: {raw!r} is not 'host:port'")
    return host, int(port_text)


def _parse_web_listen(raw: str | None) -> tuple[str, int] | None:
    return None if raw is None else _parse_listen(raw, "BOT_WEB_LISTEN")


def _parse_web_url(raw: str | None) -> str | None:
    """The public base URL: http or https with a host, kept without a trailing slash."""
    if raw is None:
        return None
    url = raw.rstrip("/")
    if not url.lower().startswith(WEB_URL_SCHEMES) or "://" not in url or not url.split("://")[1]:
        raise ConfigError(f"BOT_WEB_URL: {raw!r} is not an http:// or https:// address")
    return url


def _parse_health_poll_seconds(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_HEALTH_POLL_SECONDS
    try:
        seconds = float(raw)
    except ValueError as exc:
        raise ConfigError(f"BOT_HEALTH_POLL_SECONDS: {raw!r} is not a number of seconds") from exc
    if not 0 < seconds <= 86_400:
        raise ConfigError("BOT_HEALTH_POLL_SECONDS: must be above 0 and at most 86400 (a day)")
    return seconds


def parse_staff_chats(raw: str | None) -> tuple[str, ...]:
    """'telegram:-100123, matrix:!room:server, console:office' -> the chats, in order."""
    if not raw:
        return ()
    chats: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        platform, _sep, chat_id = item.partition(":")
        if platform not in STAFF_CHAT_PLATFORMS or not chat_id.strip() or " " in chat_id:
            raise ConfigError(
                f"BOT_STAFF_CHATS: {item!r} is not 'telegram:<chat id>', 'matrix:<room id>' "
                "or 'console:<name>'"
            )
        group, _hash, topic = chat_id.partition("#")  # a forum topic: '<group id>#<topic id>'
        if platform == "telegram" and not (
            group.lstrip("-").isdigit() and (not _hash or topic.isdigit())
        ):
            raise ConfigError(
                f"BOT_STAFF_CHATS: {item!r}: a Telegram chat id is a number (a forum topic: "
                "<group id>#<topic id>)"
            )
        if item not in chats:
            chats.append(item)
    return tuple(chats)


def parse_question_remind(raw: str) -> timedelta:
    """'48h', '2d', '90m', '1w': one offset of the --remind grammar, without @HH:MM."""
    from bot.reminders.offsets import OffsetError, parse_offsets

    problem = (
        f"BOT_QUESTION_REMIND: {raw!r} is not a number followed by w, d, h or m (e.g. 48h or 2d)"
    )
    try:
        offsets = parse_offsets(raw)
    except OffsetError as exc:
        raise ConfigError(problem) from exc
    if len(offsets) != 1 or offsets[0].at is not None or offsets[0].mondays:
        raise ConfigError(problem)
    delay = timedelta(days=offsets[0].days) + offsets[0].duration
    if delay <= timedelta(0):
        raise ConfigError("BOT_QUESTION_REMIND: must be more than 0")
    return delay


def parse_channels(raw: str | None) -> tuple[ChannelRoute, ...]:
    """TELEGRAM_CHANNELS: a comma list of `topic[:lang]=@channel_or_id`.

    A channel has one language: two entries naming it with different languages are refused.
    """
    routes: list[ChannelRoute] = []
    languages: dict[str, str] = {}
    for entry in (item.strip() for item in (raw or "").split(",")):
        if not entry:
            continue
        route = _parse_channel_entry(entry)
        key = route.channel.lower()
        given = route.language
        if given is not None and languages.setdefault(key, given) != given:
            raise ConfigError(
                f"TELEGRAM_CHANNELS: {entry!r} gives {route.channel} the language "
                f"{given!r}, another entry gave it {languages[key]!r}; a channel "
                "is written in one language"
            )
        if route not in routes:
            routes.append(route)
    return tuple(routes)


def _parse_channel_entry(entry: str) -> ChannelRoute:
    where, equals, channel = entry.partition("=")
    topic, _colon, language = where.strip().partition(":")
    topic, language, channel = topic.strip(), language.strip(), channel.strip()
    if not equals or not _CHANNEL_TOPIC.match(topic):
        raise ConfigError(
            f"TELEGRAM_CHANNELS: {entry!r} is not 'topic[:lang]=@channel' "
            "(e.g. 'grants:pl=@ngo_krakow'; '*' for every topic)"
        )
    if _colon and language not in LANGUAGES:
        raise ConfigError(
            f"TELEGRAM_CHANNELS: {entry!r}: {language!r} is not one of {', '.join(LANGUAGES)}"
        )
    if not _CHANNEL_ADDRESS.match(channel):
        raise ConfigError(
            f"TELEGRAM_CHANNELS: {entry!r}: {channel!r} is not a channel's @username "
            "(5-32 letters, digits or _) or its numeric id (-100...)"
        )
    return ChannelRoute(topic, channel, language or None)
