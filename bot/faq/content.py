"""Loading and validating the FAQ content (TOML files, one per language).

Layout of a content folder (the packaged ``bot/content/`` or ``BOT_CONTENT_DIR``)::

    faq/pl.toml            required: one table per FAQ id
    faq/uk.toml            required: the same ids
    faq/en.toml            optional: any of those ids
    faq/ru.toml            optional, index only: extra question wordings
    faq/out_of_scope.toml  optional: questions the bot must not answer

An answer-language table has ``title``, ``answer``, ``links``, ``variants`` and
``keywords``; an index-only (``ru``) table has ``variants`` and ``keywords``.
Every problem raises :class:`FaqContentError` naming the file, entry and field.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

#: The FAQ ids the bot must always be able to answer (shared/faq/README.md).
REQUIRED_IDS: tuple[str, ...] = (
    "tax-1-5",
    "opp-status",
    "local-initiative",
    "ordinary-association",
    "grant-competitions",
    "small-grants",
    "own-contribution-fund",
    "krdpp",
    "kdo",
    "partnership",
    "mayor-patronage",
    "third-place",
    "civic-budget",
    "contact",
    "volunteering",
    "bot-subscribe",
    "bot-unsubscribe",
    "bot-language",
    "bot-privacy",
)
#: Languages an answer can be written in; the first two are mandatory.
ANSWER_LANGUAGES: tuple[str, ...] = ("pl", "uk", "en")
REQUIRED_LANGUAGES: tuple[str, ...] = ("pl", "uk")
#: Languages that only add question wordings; the answer comes from ``uk``.
INDEX_ONLY_LANGUAGES: Mapping[str, str] = MappingProxyType({"ru": "uk"})
FALLBACK_LANGUAGE = "pl"

MAX_ANSWER_CHARS = 700
MAX_TITLE_CHARS = 40
OUT_OF_SCOPE_FILE = "out_of_scope.toml"
ELSEWHERE_FILE = "elsewhere.toml"
# Tables of elsewhere.toml besides entry ids: words naming this city, and words
# naming other places that no entry is about (bot.faq.scope).
ELSEWHERE_HOME = "home"
ELSEWHERE_EVERYWHERE = "everywhere"
# Places abroad: like "everywhere", but they rule out the national entries too.
ELSEWHERE_ABROAD = "abroad"
ELSEWHERE_PLACES = (ELSEWHERE_HOME, ELSEWHERE_EVERYWHERE, ELSEWHERE_ABROAD)
# elsewhere.toml's [anywhere]: ``entries``, whose answer holds wherever the asker
# lives (this bot's own entries, the 1.5 %), and ``national``, whose answer holds
# anywhere in the country (the OPP status) but not abroad.
ELSEWHERE_ANYWHERE = "anywhere"
CONTENT_DIR_ENV = "BOT_CONTENT_DIR"

_ANSWER_FIELDS = frozenset({"title", "answer", "links", "variants", "keywords"})
_INDEX_FIELDS = frozenset({"variants", "keywords"})
_OUT_OF_SCOPE_LANGUAGES = frozenset(ANSWER_LANGUAGES) | frozenset(INDEX_ONLY_LANGUAGES)


class FaqContentError(Exception):
    """The FAQ content is missing or malformed; the message names the place."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        entry: str | None = None,
        lang: str | None = None,
        field_name: str | None = None,
    ) -> None:
        where = [str(path)] if path is not None else []
        if entry is not None:
            where.append(f"entry {entry!r}")
        if lang is not None:
            where.append(f"language {lang!r}")
        if field_name is not None:
            where.append(f"field {field_name!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.path = path
        self.entry = entry
        self.lang = lang
        self.field_name = field_name


@dataclass(frozen=True, slots=True)
class FaqAnswerText:
    """What the bot sends for an entry in one language."""

    title: str
    text: str
    links: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FaqLocalized:
    """One entry in one answer language, including what the matcher indexes."""

    answer: FaqAnswerText
    variants: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """One FAQ id in every language the content provides."""

    id: str
    localized: Mapping[str, FaqLocalized]
    # Index-only wordings (e.g. Russian) as (language, phrase) pairs.
    extra_phrases: tuple[tuple[str, str], ...] = ()

    @property
    def languages(self) -> tuple[str, ...]:
        """Answer languages this entry is written in."""
        return tuple(lang for lang in ANSWER_LANGUAGES if lang in self.localized)

    def answer(self, lang: str) -> FaqAnswerText:
        """The answer in ``lang``, or in Polish when that language is missing."""
        localized = self.localized.get(lang) or self.localized[FALLBACK_LANGUAGE]
        return localized.answer

    def has_language(self, lang: str) -> bool:
        """True when the entry is written in ``lang`` (no fallback involved)."""
        return lang in self.localized

    def phrases(self) -> Iterator[tuple[str, str, str]]:
        """Every indexed text as (language, kind, text); kind is title/variant/keyword."""
        for lang, localized in self.localized.items():
            yield lang, "title", localized.answer.title
            for variant in localized.variants:
                yield lang, "variant", variant
            for keyword in localized.keywords:
                yield lang, "keyword", keyword
        for lang, phrase in self.extra_phrases:
            yield lang, "variant", phrase


@dataclass(frozen=True, slots=True)
class FaqContent:
    """All FAQ entries plus the out-of-scope examples the matcher must refuse."""

    entries: Mapping[str, FaqEntry]
    out_of_scope: Mapping[str, tuple[tuple[str, str], ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    source: Path | None = None
    # Words that say a question is about another place or another owner than an
    # entry's ("patronat medialny", "w Warszawie"): {entry id, "home" or
    # "everywhere": ((language, phrase), ...)}; see bot.faq.scope.
    elsewhere: Mapping[str, tuple[tuple[str, str], ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Entries that no place rules out ("I am from Kharkiv, how do I subscribe?"), and those
    # that only places abroad rule out.
    anywhere: frozenset[str] = frozenset()
    national: frozenset[str] = frozenset()

    @property
    def ids(self) -> tuple[str, ...]:
        """FAQ ids in content order."""
        return tuple(self.entries)

    def entry(self, faq_id: str) -> FaqEntry:
        """The entry with this id; KeyError when there is none."""
        return self.entries[faq_id]

    def count_by_language(self) -> dict[str, int]:
        """Number of entries written in each answer language."""
        return {
            lang: sum(1 for e in self.entries.values() if e.has_language(lang))
            for lang in ANSWER_LANGUAGES
        }


def packaged_content_dir() -> Path:
    """The content folder shipped inside the package (``bot/content``)."""
    return Path(__file__).resolve().parent.parent / "content"


def content_dir_from_env() -> Path | None:
    """``BOT_CONTENT_DIR`` as a path, or None for the packaged content."""
    value = os.environ.get(CONTENT_DIR_ENV, "").strip()
    return Path(value) if value else None


def load_faq(content_dir: Path | None = None) -> FaqContent:
    """Load and validate the FAQ from ``content_dir`` (None: the packaged content)."""
    root = packaged_content_dir() if content_dir is None else Path(content_dir)
    faq_dir = root / "faq"
    if not faq_dir.is_dir():
        raise FaqContentError("no 'faq' folder in the content directory", path=root)

    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for lang in (*ANSWER_LANGUAGES, *INDEX_ONLY_LANGUAGES):
        path = faq_dir / f"{lang}.toml"
        if path.exists():
            tables[lang] = _read_toml(path)
        elif lang in REQUIRED_LANGUAGES:
            raise FaqContentError(f"missing required {lang}.toml", path=faq_dir)

    ids = _check_ids(tables, faq_dir)
    entries: dict[str, FaqEntry] = {}
    for faq_id in ids:
        localized = {
            lang: _parse_answer_entry(tables[lang][faq_id], faq_dir / f"{lang}.toml", faq_id, lang)
            for lang in ANSWER_LANGUAGES
            if lang in tables and faq_id in tables[lang]
        }
        extra: list[tuple[str, str]] = []
        for lang in INDEX_ONLY_LANGUAGES:
            if lang in tables and faq_id in tables[lang]:
                path = faq_dir / f"{lang}.toml"
                extra.extend(
                    (lang, p) for p in _parse_index_entry(tables[lang][faq_id], path, faq_id, lang)
                )
        entries[faq_id] = FaqEntry(faq_id, MappingProxyType(localized), tuple(extra))

    anywhere, national = _load_anywhere(faq_dir / ELSEWHERE_FILE, entries)
    elsewhere = _load_out_of_scope(faq_dir / ELSEWHERE_FILE, skip=ELSEWHERE_ANYWHERE)
    for table in elsewhere:
        if table not in entries and table not in ELSEWHERE_PLACES:
            raise FaqContentError(
                f"unknown table (an entry id or one of {', '.join(ELSEWHERE_PLACES)})",
                path=faq_dir / ELSEWHERE_FILE,
                entry=table,
            )
    return FaqContent(
        entries=MappingProxyType(entries),
        out_of_scope=MappingProxyType(_load_out_of_scope(faq_dir / OUT_OF_SCOPE_FILE)),
        source=root,
        elsewhere=MappingProxyType(elsewhere),
        anywhere=anywhere,
        national=national,
    )


def _read_toml(path: Path) -> dict[str, dict[str, Any]]:
    """Parse one TOML file whose top level is a table of entries."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FaqContentError(f"cannot read: {exc}", path=path) from exc
    for key, value in data.items():
        if not isinstance(value, dict):
            raise FaqContentError("expected a table ([id] section)", path=path, entry=key)
    return data


def _check_ids(tables: Mapping[str, Mapping[str, Any]], faq_dir: Path) -> list[str]:
    """The ids of the content: the required ones first, then extras present in pl and uk."""
    pl_ids, uk_ids = list(tables["pl"]), list(tables["uk"])
    for lang in REQUIRED_LANGUAGES:
        for faq_id in REQUIRED_IDS:
            if faq_id not in tables[lang]:
                raise FaqContentError(
                    "required entry is missing",
                    path=faq_dir / f"{lang}.toml",
                    entry=faq_id,
                    lang=lang,
                )
    for faq_id in (*pl_ids, *uk_ids):
        for lang in REQUIRED_LANGUAGES:
            if faq_id not in tables[lang]:
                raise FaqContentError(
                    "entry exists in one required language but not in this one",
                    path=faq_dir / f"{lang}.toml",
                    entry=faq_id,
                    lang=lang,
                )
    for lang, table in tables.items():
        for faq_id in table:
            if faq_id not in tables["pl"]:
                raise FaqContentError(
                    "unknown id (not in pl.toml)",
                    path=faq_dir / f"{lang}.toml",
                    entry=faq_id,
                    lang=lang,
                )
    extras = [faq_id for faq_id in pl_ids if faq_id not in REQUIRED_IDS]
    return [*REQUIRED_IDS, *extras]


def _parse_answer_entry(raw: Mapping[str, Any], path: Path, faq_id: str, lang: str) -> FaqLocalized:
    """Validate one entry of an answer-language file."""

    def fail(message: str, field_name: str | None = None) -> FaqContentError:
        return FaqContentError(message, path=path, entry=faq_id, lang=lang, field_name=field_name)

    unknown = sorted(set(raw) - _ANSWER_FIELDS)
    if unknown:
        raise fail(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    title = _text_field(raw, "title", fail)
    if len(title) > MAX_TITLE_CHARS:
        raise fail(f"title is {len(title)} characters, the limit is {MAX_TITLE_CHARS}", "title")
    answer = _text_field(raw, "answer", fail)
    if len(answer) > MAX_ANSWER_CHARS:
        raise fail(f"answer is {len(answer)} characters, the limit is {MAX_ANSWER_CHARS}", "answer")
    if "<" in answer or ">" in answer:
        raise fail("answer must be plain text (no HTML)", "answer")
    links = _string_list(raw, "links", fail, allow_empty=True)
    for link in links:
        if not is_valid_url(link):
            raise fail(f"not an http(s) URL: {link!r}", "links")
    variants = _string_list(raw, "variants", fail, allow_empty=False)
    keywords = _string_list(raw, "keywords", fail, allow_empty=True)
    return FaqLocalized(FaqAnswerText(title, answer, links), variants, keywords)


def _parse_index_entry(
    raw: Mapping[str, Any], path: Path, faq_id: str, lang: str
) -> tuple[str, ...]:
    """Validate one entry of an index-only file; returns its phrases."""

    def fail(message: str, field_name: str | None = None) -> FaqContentError:
        return FaqContentError(message, path=path, entry=faq_id, lang=lang, field_name=field_name)

    unknown = sorted(set(raw) - _INDEX_FIELDS)
    if unknown:
        raise fail(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    variants = _string_list(raw, "variants", fail, allow_empty=True)
    keywords = _string_list(raw, "keywords", fail, allow_empty=True)
    return (*variants, *keywords)


def _text_field(raw: Mapping[str, Any], name: str, fail: Any) -> str:
    """A required, non-blank string field, stripped."""
    value = raw.get(name)
    if value is None:
        raise fail("missing", name)
    if not isinstance(value, str):
        raise fail("must be a string", name)
    value = value.strip()
    if not value:
        raise fail("is empty", name)
    return value


def _string_list(
    raw: Mapping[str, Any], name: str, fail: Any, *, allow_empty: bool
) -> tuple[str, ...]:
    """A list of non-blank strings; missing means empty when that is allowed."""
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail("must be a list of strings", name)
    items = tuple(item.strip() for item in value)
    if any(not item for item in items):
        raise fail("contains an empty string", name)
    if not items and not allow_empty:
        raise fail("must not be empty", name)
    return items


def is_valid_url(link: str) -> bool:
    """True for an absolute http(s) URL with a host and no spaces."""
    if any(ch.isspace() for ch in link):
        return False
    try:
        parts = urlsplit(link)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https") and bool(parts.hostname) and "." in (parts.hostname or "")
    )


def _load_anywhere(
    path: Path, entries: Mapping[str, FaqEntry]
) -> tuple[frozenset[str], frozenset[str]]:
    """elsewhere.toml's ``[anywhere]``: its ``entries`` and ``national`` entry ids.

    The file and the table are optional; an unknown key or entry id fails.
    """
    if not path.exists():
        return frozenset(), frozenset()
    table = _read_toml(path).get(ELSEWHERE_ANYWHERE, {})
    if set(table) - {"entries", "national"}:
        raise FaqContentError(
            "only the keys 'entries' and 'national'", path=path, entry=ELSEWHERE_ANYWHERE
        )
    lists: list[frozenset[str]] = []
    for key in ("entries", "national"):
        ids = table.get(key, [])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise FaqContentError(
                f"{key} must be a list of entry ids", path=path, entry=ELSEWHERE_ANYWHERE
            )
        unknown = sorted(set(ids) - set(entries))
        if unknown:
            raise FaqContentError(
                f"unknown entry id {unknown[0]!r}", path=path, entry=ELSEWHERE_ANYWHERE
            )
        lists.append(frozenset(ids))
    return lists[0], lists[1]


def _load_out_of_scope(
    path: Path, skip: str | None = None
) -> dict[str, tuple[tuple[str, str], ...]]:
    """Tables of phrases per language: {table: ((language, phrase), ...)}; the file is optional.

    The shape of out_of_scope.toml (a table per topic) and of elsewhere.toml
    (whose table ``skip`` has another shape).
    """
    if not path.exists():
        return {}
    topics: dict[str, tuple[tuple[str, str], ...]] = {}
    for topic, table in _read_toml(path).items():
        if topic == skip:
            continue
        phrases: list[tuple[str, str]] = []
        for lang, value in table.items():
            if lang not in _OUT_OF_SCOPE_LANGUAGES:
                raise FaqContentError("unknown language key", path=path, entry=topic, lang=lang)
            if not isinstance(value, list) or not all(
                isinstance(v, str) and v.strip() for v in value
            ):
                raise FaqContentError(
                    "must be a list of non-empty strings", path=path, entry=topic, lang=lang
                )
            phrases.extend((lang, v.strip()) for v in value)
        topics[topic] = tuple(phrases)
    return topics
