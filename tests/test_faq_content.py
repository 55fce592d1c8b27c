"""FAQ content: the packaged files are complete and valid; broken files fail loudly."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.faq import REQUIRED_IDS, FaqContentError, load_faq
from bot.faq.content import MAX_ANSWER_CHARS, MAX_TITLE_CHARS, packaged_content_dir


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the packaged content folder."""
    target = tmp_path / "content"
    shutil.copytree(packaged_content_dir(), target)
    return target


def rewrite(path: Path, change: Callable[[str], str]) -> None:
    """Apply a text change to a content file, insisting that it changed something."""
    before = path.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, "the test's edit did not apply"
    path.write_text(after, encoding="utf-8")


def test_packaged_content_has_every_required_id_in_pl_uk_and_en() -> None:
    content = load_faq()
    assert set(REQUIRED_IDS) <= set(content.ids)
    assert len(REQUIRED_IDS) == 19
    for faq_id in REQUIRED_IDS:
        entry = content.entry(faq_id)
        assert entry.languages == ("pl", "uk", "en"), faq_id


def test_packaged_answers_respect_limits_and_name_a_next_step() -> None:
    content = load_faq()
    for faq_id in content.ids:
        for lang in ("pl", "uk", "en"):
            answer = content.entry(faq_id).answer(lang)
            assert 0 < len(answer.text) <= MAX_ANSWER_CHARS, (faq_id, lang)
            assert 0 < len(answer.title) <= MAX_TITLE_CHARS, (faq_id, lang)
            assert all(link.startswith(("http://", "https://")) for link in answer.links)
            # Where to go next: an official link, or (bot entries) a command to type.
            assert answer.links or re.search(r"/[a-z]+", answer.text), (faq_id, lang)


def test_packaged_answers_are_plain_text() -> None:
    content = load_faq()
    for faq_id in content.ids:
        for lang in ("pl", "uk", "en"):
            assert not re.search(r"</?[a-z]+[^>]*>", content.entry(faq_id).answer(lang).text)


def test_ukrainian_answers_keep_polish_official_terms_in_brackets() -> None:
    content = load_faq()
    expectations = {
        "local-initiative": "(inicjatywa lokalna)",
        "ordinary-association": "(stowarzyszenie zwykłe)",
        "civic-budget": "(Budżet Obywatelski)",
        "own-contribution-fund": "(Fundusz Wkładów Własnych)",
    }
    for faq_id, term in expectations.items():
        assert term in content.entry(faq_id).answer("uk").text


def test_bot_entries_explain_the_commands_and_the_matrix_prefix() -> None:
    content = load_faq()
    commands = {
        "bot-subscribe": [
            "/subscribe",
            "/topics",
            "grants",
            "tax",
            "meetings",
            "consultations",
            "news",
        ],
        "bot-unsubscribe": ["/unsubscribe", "all"],
        "bot-language": ["/language", "pl", "uk", "en"],
        "bot-privacy": ["/privacy", "/export", "/forget", "90"],
    }
    for faq_id, words in commands.items():
        for lang in ("pl", "uk", "en"):
            text = content.entry(faq_id).answer(lang).text
            for word in words:
                assert word in text, (faq_id, lang, word)
            assert "Matrix" in text and "!" in text, (faq_id, lang)


def test_content_dir_none_means_the_packaged_content(content_copy: Path) -> None:
    packaged = load_faq(None)
    copied = load_faq(content_copy)
    assert packaged.ids == copied.ids
    assert copied.source == content_copy


def test_missing_language_falls_back_to_polish(content_copy: Path) -> None:
    (content_copy / "faq" / "en.toml").unlink()
    content = load_faq(content_copy)
    entry = content.entry("krdpp")
    assert not entry.has_language("en")
    assert entry.answer("en") == entry.answer("pl")
    assert content.count_by_language() == {"pl": 19, "uk": 19, "en": 0}


def test_missing_ukrainian_entry_names_the_entry_and_language(content_copy: Path) -> None:
    uk = content_copy / "faq" / "uk.toml"
    rewrite(uk, lambda text: text.replace("[krdpp]", "[krdpp-renamed]"))
    with pytest.raises(FaqContentError) as caught:
        load_faq(content_copy)
    assert caught.value.entry == "krdpp"
    assert caught.value.lang == "uk"
    assert "krdpp" in str(caught.value) and "uk.toml" in str(caught.value)


def test_missing_required_file_fails(content_copy: Path) -> None:
    (content_copy / "faq" / "pl.toml").unlink()
    with pytest.raises(FaqContentError, match=r"pl\.toml"):
        load_faq(content_copy)


def test_missing_faq_folder_fails(tmp_path: Path) -> None:
    with pytest.raises(FaqContentError, match="faq"):
        load_faq(tmp_path)


def test_toml_syntax_error_names_the_file(content_copy: Path) -> None:
    rewrite(content_copy / "faq" / "uk.toml", lambda text: text.replace('title = "', "title = ", 1))
    with pytest.raises(FaqContentError, match=r"uk\.toml.*cannot read"):
        load_faq(content_copy)


def test_empty_answer_names_entry_language_and_field(content_copy: Path) -> None:
    pl = content_copy / "faq" / "pl.toml"
    rewrite(pl, lambda text: _replace_field(text, "kdo", "answer", '""'))
    with pytest.raises(FaqContentError) as caught:
        load_faq(content_copy)
    error = caught.value
    assert (error.entry, error.lang, error.field_name) == ("kdo", "pl", "answer")
    assert "empty" in str(error)


def test_too_long_answer_fails(content_copy: Path) -> None:
    long_text = '"' + "x" * (MAX_ANSWER_CHARS + 1) + '"'
    rewrite(
        content_copy / "faq" / "uk.toml",
        lambda t: _replace_field(t, "tax-1-5", "answer", long_text),
    )
    with pytest.raises(FaqContentError, match="limit") as caught:
        load_faq(content_copy)
    assert (caught.value.entry, caught.value.field_name) == ("tax-1-5", "answer")


def test_too_long_title_fails(content_copy: Path) -> None:
    title = '"' + "T" * (MAX_TITLE_CHARS + 1) + '"'
    rewrite(
        content_copy / "faq" / "en.toml", lambda t: _replace_field(t, "contact", "title", title)
    )
    with pytest.raises(FaqContentError) as caught:
        load_faq(content_copy)
    assert (caught.value.entry, caught.value.lang, caught.value.field_name) == (
        "contact",
        "en",
        "title",
    )


@pytest.mark.parametrize(
    "bad_link",
    [
        "www.krakow.pl",
        "ftp://krakow.pl/file",
        "https://",
        "https://krakow pl",
        "javascript:alert(1)",
    ],
)
def test_malformed_link_fails(content_copy: Path, bad_link: str) -> None:
    links = f'["{bad_link}"]'
    rewrite(
        content_copy / "faq" / "pl.toml",
        lambda t: _replace_field(t, "civic-budget", "links", links),
    )
    with pytest.raises(FaqContentError) as caught:
        load_faq(content_copy)
    assert (caught.value.entry, caught.value.field_name) == ("civic-budget", "links")
    assert bad_link in str(caught.value)


def test_html_in_answer_fails(content_copy: Path) -> None:
    html = '"See <a href=\\"https://krakow.pl\\">here</a>"'
    rewrite(content_copy / "faq" / "pl.toml", lambda t: _replace_field(t, "kdo", "answer", html))
    with pytest.raises(FaqContentError, match="plain text"):
        load_faq(content_copy)


def test_misspelt_field_is_reported(content_copy: Path) -> None:
    rewrite(
        content_copy / "faq" / "uk.toml",
        lambda t: t.replace("[volunteering]\ntitle", "[volunteering]\ntitel", 1),
    )
    with pytest.raises(FaqContentError) as caught:
        load_faq(content_copy)
    assert caught.value.entry == "volunteering"
    assert "titel" in str(caught.value)


def test_empty_variants_fail(content_copy: Path) -> None:
    rewrite(content_copy / "faq" / "pl.toml", lambda t: _replace_field(t, "kdo", "variants", "[]"))
    with pytest.raises(FaqContentError) as caught:
        load_faq(content_copy)
    assert caught.value.field_name == "variants"


def test_optional_language_with_unknown_id_fails(content_copy: Path) -> None:
    en = content_copy / "faq" / "en.toml"
    en.write_text(
        en.read_text(encoding="utf-8")
        + '\n[parking]\ntitle = "Parking"\nanswer = "No."\nlinks = []\nvariants = ["parking"]\n',
        encoding="utf-8",
    )
    with pytest.raises(FaqContentError, match="parking"):
        load_faq(content_copy)


def test_extra_entry_must_exist_in_both_required_languages(content_copy: Path) -> None:
    extra = '\n[city-card]\ntitle = "Karta"\nanswer = "Tekst."\nlinks = []\nvariants = ["karta"]\n'
    pl = content_copy / "faq" / "pl.toml"
    pl.write_text(pl.read_text(encoding="utf-8") + extra, encoding="utf-8")
    with pytest.raises(FaqContentError) as caught:
        load_faq(content_copy)
    assert (caught.value.entry, caught.value.lang) == ("city-card", "uk")
    uk = content_copy / "faq" / "uk.toml"
    uk.write_text(uk.read_text(encoding="utf-8") + extra, encoding="utf-8")
    assert "city-card" in load_faq(content_copy).ids


def test_malformed_out_of_scope_file_fails(content_copy: Path) -> None:
    path = content_copy / "faq" / "out_of_scope.toml"
    path.write_text('[weather]\npl = "pogoda"\n', encoding="utf-8")
    with pytest.raises(FaqContentError, match="weather"):
        load_faq(content_copy)


def test_index_only_russian_file_is_validated(content_copy: Path) -> None:
    ru = content_copy / "faq" / "ru.toml"
    rewrite(ru, lambda t: t.replace("[krdpp]\nvariants", '[krdpp]\nanswer = "x"\nvariants', 1))
    with pytest.raises(FaqContentError) as caught:
        load_faq(content_copy)
    assert (caught.value.entry, caught.value.lang) == ("krdpp", "ru")


def _replace_field(text: str, entry: str, field_name: str, new_value: str) -> str:
    """Replace one field of one [entry] table in TOML text (single or triple quoted)."""
    start = text.index(f"[{entry}]\n")
    end = text.find("\n[", start + 1)
    end = len(text) if end == -1 else end
    section = text[start:end]
    pattern = re.compile(
        rf'^{field_name} = (""".*?"""|"(?:[^"\\]|\\.)*"|\[.*?\])',
        re.MULTILINE | re.DOTALL,
    )
    new_section, count = pattern.subn(lambda _: f"{field_name} = {new_value}", section, count=1)
    assert count == 1, f"field {field_name} not found in [{entry}]"
    return text[:start] + new_section + text[end:]
