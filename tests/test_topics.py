"""Topic content: the contract slugs, three languages, and loud failures for broken files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.core.topics import CONTRACT_SLUGS, ContentError, load_topics


def test_packaged_topics() -> None:
    topics = load_topics()
    assert topics.slugs == CONTRACT_SLUGS
    for topic in topics.items:
        for language in ("pl", "uk", "en"):
            assert topic.name(language) and topic.description(language)


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "topics.toml").write_text(text, "utf-8")
    return tmp_path


def test_another_city_can_add_a_topic(tmp_path: Path) -> None:
    packaged = (Path(__file__).parent.parent / "bot" / "content" / "topics.toml").read_text("utf-8")
    extra = """
[topics.culture]
order = 6
pl = { name = "Kultura", description = "Wydarzenia kulturalne." }
uk = { name = "Культура", description = "Культурні події." }
en = { name = "Culture", description = "Cultural events." }
"""
    topics = load_topics(write(tmp_path, packaged + extra))
    assert topics.slugs[-1] == "culture"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not = [toml", "not valid TOML"),
        ("[other]\nx = 1\n", "no [topics"),
        ('[topics.grants]\npl = { name = "G", description = "d" }\n', "grants': no uk texts"),
        (
            '[topics.grants]\npl = { name = "", description = "d" }\n'
            'uk = { name = "G", description = "d" }\nen = { name = "G", description = "d" }\n',
            "pl.name is missing or empty",
        ),
    ],
)
def test_broken_files_fail_naming_the_entry(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ContentError, match=re.escape(message)):
        load_topics(write(tmp_path, text))


def test_missing_contract_topic(tmp_path: Path) -> None:
    texts = 'pl = { name = "N", description = "d" }\nuk = { name = "N", description = "d" }\nen = { name = "N", description = "d" }\n'
    with pytest.raises(ContentError, match="tax, meetings, consultations, news"):
        load_topics(write(tmp_path, "[topics.grants]\n" + texts))


def test_missing_file_in_content_dir(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="not found"):
        load_topics(tmp_path)
