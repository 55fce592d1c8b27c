"""Catalogs: complete, current with the source, with correct plural forms; language mapping."""

from __future__ import annotations

import gettext
import sys

import pytest

from bot.i18n import _, language_from_hint, ngettext, translations, use_language
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import catalogs


def test_every_catalog_is_complete_and_current() -> None:
    template = catalogs.extract()
    assert len([m for m in template if m.id]) > 30
    problems = [p for language in catalogs.LANGUAGES for p in catalogs.problems(language, template)]
    assert problems == [], "run `python scripts/catalogs.py` and translate:\n" + "\n".join(problems)


def test_the_check_catches_an_untranslated_entry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    template = catalogs.extract()
    catalog = catalogs.read_catalog("uk")
    first = next(m for m in catalog if m.id)
    first.string = ""
    catalogs.write("uk", catalog, tmp_path)
    problems = catalogs.problems("uk", template, tmp_path)
    assert any("untranslated" in p for p in problems)


@pytest.mark.parametrize("language", ["pl", "uk"])
def test_three_plural_forms(language: str) -> None:
    catalog = catalogs.read_catalog(language)
    assert catalog.num_plurals == 3
    forms = {translations(language).ngettext("x", "y", n) for n in (1, 2, 5)}
    assert forms == {"x", "y"}  # without a catalog entry gettext falls back to the msgids


def test_plural_rule_of_each_language() -> None:
    polish = gettext.c2py(catalogs.read_catalog("pl").plural_expr)
    ukrainian = gettext.c2py(catalogs.read_catalog("uk").plural_expr)
    assert [polish(n) for n in (1, 2, 5, 22, 25, 12)] == [0, 1, 2, 1, 2, 2]
    assert [ukrainian(n) for n in (1, 2, 5, 21, 11, 24)] == [0, 1, 2, 0, 2, 1]


def test_translation_follows_the_context_language() -> None:
    with use_language("uk"):
        assert _("Topics:") == "Теми:"
        with use_language("pl"):
            assert _("Topics:") == "Tematy:"
        assert _("Topics:") == "Теми:"
    with use_language("en"):
        assert _("Topics:") == "Topics:"
        assert ngettext("a", "b", 2) == "b"


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("uk", "uk"),
        ("ru", "uk"),
        ("ru-RU", "uk"),
        ("pl", "pl"),
        ("pl_PL.UTF-8", "pl"),
        ("en-GB", "en"),
        ("de", "en"),
        ("C.UTF-8", None),
        ("POSIX", None),
        ("", None),
        (None, None),
    ],
)
def test_language_from_hint(hint: str | None, expected: str | None) -> None:
    assert language_from_hint(hint) == expected


def test_no_polish_or_ukrainian_hard_coded_in_python() -> None:
    """Interface text lives in the catalogs; Python holds English msgids only."""
    # The language autonyms, the FAQ matcher's linguistic data (stop words, suffixes, the
    # Cyrillic alphabet), the date parser's day words and the yes/no answer words, which are
    # not interface text.
    allowed = {
        "i18n.py",
        "normalize.py",
        "lexicon.py",
        "langdetect.py",
        "daywords.py",
        "answerwords.py",
    }
    offenders = []
    for path in (ROOT / "bot").rglob("*.py"):
        if path.name in allowed:
            continue
        text = path.read_text("utf-8")
        if any("\u0400" <= ch <= "\u04ff" for ch in text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
