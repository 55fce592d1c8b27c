"""Topics chats subscribe to: fixed slugs, names and descriptions as per-language content."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bot.config import LANGUAGES

CONTRACT_SLUGS = ("grants", "tax", "meetings", "consultations", "news")
TOPICS_FILE = "topics.toml"


class ContentError(ValueError):
    """A content file is missing or malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Topic:
    slug: str
    order: int
    names: dict[str, str]
    descriptions: dict[str, str]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["pl"]

    def description(self, language: str) -> str:
        return self.descriptions.get(language) or self.descriptions["pl"]


@dataclass(frozen=True)
class Topics:
    """The topics in display order."""

    items: tuple[Topic, ...]

    @property
    def slugs(self) -> tuple[str, ...]:
        return tuple(topic.slug for topic in self.items)

    def get(self, slug: str) -> Topic | None:
        return next((topic for topic in self.items if topic.slug == slug), None)


def read_content_text(content_dir: Path | None, name: str) -> tuple[str, str]:
    """A content file's text and where it came from: BOT_CONTENT_DIR, else the packaged copy."""
    if content_dir is not None:
        path = content_dir / name
        if not path.is_file():
            raise ContentError(f"{path}: file not found in BOT_CONTENT_DIR")
        return path.read_text("utf-8"), str(path)
    packaged = resources.files("bot.content") / name
    return packaged.read_text("utf-8"), f"bot/content/{name}"


def load_topics(content_dir: Path | None = None) -> Topics:
    """Load and validate the topics; raise ContentError naming the broken entry."""
    text, origin = read_content_text(content_dir, TOPICS_FILE)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContentError(f"{origin}: not valid TOML: {exc}") from exc
    table = data.get("topics")
    if not isinstance(table, dict) or not table:
        raise ContentError(f"{origin}: no [topics.<slug>] tables")
    topics = [_parse_topic(origin, slug, entry) for slug, entry in table.items()]
    missing = [slug for slug in CONTRACT_SLUGS if slug not in table]
    if missing:
        raise ContentError(f"{origin}: the contract topics {', '.join(missing)} are missing")
    return Topics(tuple(sorted(topics, key=lambda t: (t.order, t.slug))))


def _parse_topic(origin: str, slug: str, entry: object) -> Topic:
    where = f"{origin}: topic {slug!r}"
    if not isinstance(entry, dict):
        raise ContentError(f"{where}: must be a table")
    if not slug.isascii() or not slug.replace("-", "").isalnum() or slug != slug.lower():
        raise ContentError(f"{where}: a slug is lower-case letters, digits and '-'")
    names: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for language in LANGUAGES:
        texts = entry.get(language)
        if not isinstance(texts, dict):
            raise ContentError(f"{where}: no {language} texts")
        for key, target in (("name", names), ("description", descriptions)):
            value = texts.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ContentError(f"{where}: {language}.{key} is missing or empty")
            target[language] = value.strip()
    order = entry.get("order", 100)
    if not isinstance(order, int):
        raise ContentError(f"{where}: order must be a whole number")
    return Topic(slug, order, names, descriptions)
