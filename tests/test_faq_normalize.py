"""Normalisation: diacritics, apostrophes, punctuation, inflection, stop words."""

from __future__ import annotations

import pytest

from bot.faq.normalize import content_terms, stem_polish, tokenize


def terms(text: str) -> list[tuple[str, ...]]:
    """The question-side terms of a text."""
    return list(content_terms(text))


@pytest.mark.parametrize(
    ("with_diacritics", "without"),
    [
        ("założyć", "zalozyc"),
        ("Rejestrujemy stowarzyszenie zwykłe!", "rejestrujemy stowarzyszenie zwykle"),
        ("Budżet Obywatelski Krakowa", "budzet obywatelski krakowa"),
        ("wolontariuszką", "wolontariuszka"),
        ("ŹRÓDŁA FINANSOWANIA", "zrodla finansowania"),
    ],
)
def test_polish_diacritics_are_folded(with_diacritics: str, without: str) -> None:
    assert terms(with_diacritics) == terms(without)


@pytest.mark.parametrize("apostrophe", ["'", "’", "ʼ", "`", "‘"])
def test_ukrainian_apostrophe_variants_are_equivalent(apostrophe: str) -> None:
    reference = terms("звичайне об'єднання, зв'язатися")
    assert terms(f"звичайне об{apostrophe}єднання, зв{apostrophe}язатися") == reference
    assert reference  # the words themselves are not dropped


def test_punctuation_and_case_do_not_matter() -> None:
    assert terms("KRS!!! numer??? (OPP)") == terms("krs numer opp")
    assert terms("e-PIT") == terms("epit") == terms("E-Pit")
    assert terms("1,5%") == terms("1.5 %")


@pytest.mark.parametrize(
    "forms",
    [
        ("podatek", "podatku", "podatkiem", "podatki"),
        ("wniosek", "wniosku", "wnioski", "wnioskiem"),
        ("organizacja", "organizacji", "organizację", "organizacje"),
        ("konkurs", "konkursu", "konkursy", "konkursów"),
        ("dotacja", "dotacji", "dotację", "dotacje"),
    ],
)
def test_polish_inflected_forms_share_a_stem(forms: tuple[str, ...]) -> None:
    stems = {stem_polish(terms(form)[0][0]) for form in forms}
    assert len(stems) == 1, stems


@pytest.mark.parametrize(
    "forms",
    [
        ("організація", "організації", "організацію", "організаціями"),
        ("податок", "податку", "податком"),
        ("волонтер", "волонтером", "волонтери"),
    ],
)
def test_ukrainian_inflected_forms_share_a_lemma(forms: tuple[str, ...]) -> None:
    assert len({terms(form)[0] for form in forms}) == 1


def test_russian_cognates_meet_ukrainian_words() -> None:
    assert terms("организации") == terms("організації")
    assert terms("бюджета") == terms("бюджету")


def test_stop_words_are_dropped_but_capitalised_acronyms_are_kept() -> None:
    assert terms("jak i gdzie, bo kiedy?") == []
    assert terms("як і де, коли?") == []
    assert terms("głosowanie BO") == [*terms("glosowanie"), ("bo",)]
    # In a text typed in capitals, capitals mean nothing.
    assert terms("GDZIE ZAREJESTROWAĆ FUNDACJĘ") == terms("gdzie zarejestrować fundację")


def test_tokens_know_their_script() -> None:
    scripts = [token.script for token in tokenize("PIT та 1,5% податку")]
    assert scripts == ["latin", "cyrillic", "number", "number", "cyrillic"]
