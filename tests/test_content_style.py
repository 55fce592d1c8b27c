"""House style of the texts people read: FAQ answers, topic descriptions, interface catalogs.

The FAQ answers come in short paragraphs or lists with the links after them; Ukrainian says
"офіс" for the office, writes one apostrophe and no Polish ordinal dot; Polish addresses the
reader in lowercase ("ty", "twoje") and says "oddzielone przecinkami", not "po przecinku".
"""

from __future__ import annotations

import itertools
import re
import sys
import tomllib

import pytest

from bot.faq import load_faq
from bot.faq.content import packaged_content_dir
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import catalogs

LONGEST_PARAGRAPH = 400
LONGEST_LINE = 300
LONGEST_LIST = 6


def answers(language: str) -> list[tuple[str, str]]:
    content = load_faq()
    return [(faq_id, content.entry(faq_id).answer(language).text) for faq_id in content.ids]


def ukrainian_texts() -> list[tuple[str, str]]:
    """Every Ukrainian text a person reads: FAQ titles and answers, topics, the catalog."""
    content = load_faq()
    texts = [(f"faq {i}", content.entry(i).answer("uk").title) for i in content.ids]
    texts += [(f"faq {i}", content.entry(i).answer("uk").text) for i in content.ids]
    with (packaged_content_dir() / "topics.toml").open("rb") as handle:
        topics = tomllib.load(handle)["topics"]
    texts += [(f"topic {slug}", " ".join(t["uk"].values())) for slug, t in topics.items()]
    return texts + catalog_strings("uk")


def catalog_strings(language: str) -> list[tuple[str, str]]:
    found = []
    for message in catalogs.read_catalog(language):
        if message.id:
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            found += [(f"msgid {message.id!r}", s) for s in strings if s]
    return found


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
def test_answers_are_short_paragraphs_or_lists(language: str) -> None:
    for faq_id, text in answers(language):
        paragraphs = text.split("\n\n")
        assert 2 <= len(paragraphs) <= 4, (faq_id, language, "one dense block")
        for paragraph in paragraphs:
            assert paragraph.strip() == paragraph and paragraph, (faq_id, language)
            items = [line for line in paragraph.split("\n") if line.startswith("• ")]
            if items:  # a short list: a few lines, each short
                assert len(items) <= LONGEST_LIST, (faq_id, language, "list too long")
                for line in paragraph.split("\n"):
                    assert len(line) <= LONGEST_LINE, (faq_id, language, line[:60])
            else:
                assert len(paragraph) <= LONGEST_PARAGRAPH, (faq_id, language, paragraph[:60])
        lines = text.split("\n")
        for before, line in itertools.pairwise(lines):
            # a line break inside a paragraph only ever starts a list item
            assert line == "" or before == "" or line.startswith("• "), (faq_id, language, line)


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
def test_links_come_after_the_answer_not_inside_it(language: str) -> None:
    for faq_id, text in answers(language):
        assert not re.search(r"https?://", text), (faq_id, language)


def test_ukrainian_says_office_not_bureau_and_writes_one_apostrophe() -> None:
    for where, text in ukrainian_texts():
        assert not re.search(r"\bбюро", text, re.IGNORECASE), where
        assert "'" not in text, (where, "use ’")


def test_ukrainian_has_no_polish_ordinal_dot_and_one_name_for_the_commissions() -> None:
    for where, text in ukrainian_texts():
        assert not re.search(r"\d\.\s+[а-яіїєґ]", text), where  # "у 3. місці"
        assert "громадянського діалогу" not in text, where
        assert not re.search(r"[а-яіїєґ][a-ząćęłńóśźż]|[a-ząćęłńóśźż][а-яіїєґ]", text), where


def index_strings() -> list[tuple[str, str]]:
    """Every variant and keyword of every FAQ file, and the out-of-scope phrases."""
    found = []
    for path in sorted((packaged_content_dir() / "faq").glob("*.toml")):
        with path.open("rb") as handle:
            tables = tomllib.load(handle)
        for name, table in tables.items():
            for field, value in table.items():
                if isinstance(value, list):
                    found += [(f"{path.name} {name}.{field}", s) for s in value]
    return found


def test_index_words_use_one_alphabet_and_the_ukrainian_apostrophe() -> None:
    mixed = re.compile(r"[\u0400-\u04ff][A-Za-z\u00c0-\u024f]|[A-Za-z\u00c0-\u024f][\u0400-\u04ff]")
    for where, text in index_strings():
        assert not mixed.search(text), (where, text)  # "урząd"
        assert not re.search(r"[\u0400-\u04ff]'[\u0400-\u04ff]", text), (where, text, "use ’")


def test_polish_addresses_the_reader_in_lowercase() -> None:
    texts = catalog_strings("pl") + [(f"faq {i}", t) for i, t in answers("pl")]
    for where, text in texts:
        # "Twój e-PIT" is the name of a service; a sentence may start with a capital, also
        # after a leading emoji ("📨 Twoje pytanie…")
        without_names = re.sub(r"Tw(ój|oim|ojego|ojemu) e-PIT", "", text)
        without_names = re.sub(r"^[^\w\s]+\s*", "", without_names)
        assert not re.search(
            r"(?<![.!?:•]\s)(?<!^)\b(Twoj\w*|Twój|Ciebie|Cię|Tobie)\b", without_names
        ), where
        assert "po przecinku" not in text, where
