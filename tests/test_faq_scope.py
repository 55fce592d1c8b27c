"""Another place's or another owner's mechanism: the matcher abstains (bot.faq.scope)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.faq import FaqContentError, FaqMatcher, load_faq
from bot.faq.content import ELSEWHERE_FILE, packaged_content_dir
from bot.faq.scope import ScopeRules, own_wording_conflicts


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher(load_faq())


@pytest.fixture(scope="module")
def rules() -> ScopeRules:
    return ScopeRules.from_content(load_faq())


def test_every_entry_keeps_its_own_wording() -> None:
    """No title, variant or keyword of an entry is out of that entry's scope.

    This is what catches a listed word that collides with an entry's own
    vocabulary: the Ukrainian lemma of "Радом" (the city) is "рада" (council).
    """
    assert own_wording_conflicts(load_faq()) == []


@pytest.mark.parametrize(
    "question",
    [
        "Kiedy jest głosowanie w budżecie obywatelskim Wrocławia?",
        "Коли голосування за громадський бюджет у Гданську?",
        "jak dostać patronat medialny gazety dla naszego festiwalu?",
        "Як отримати патронат консульства для нашої виставки?",
        "jak zmienić język w telefonie na polski?",
        "yak zminyty movu v telefoni?",
        "Jak wypisać się z newslettera banku?",
        "Czy spółka może przekazać 1,5% z CIT na fundację?",
        "Jak znaleźć wolontariat za granicą na wakacje?",
    ],
)
def test_another_place_or_owner_abstains(matcher: FaqMatcher, question: str) -> None:
    assert matcher.ask(question).status == "abstain"


@pytest.mark.parametrize(
    ("question", "faq_id"),
    [
        ("Kiedy jest głosowanie w budżecie obywatelskim?", "civic-budget"),
        ("Коли голосування за громадський бюджет?", "civic-budget"),
        ("Jak uzyskać patronat honorowy Prezydenta Miasta Krakowa?", "mayor-patronage"),
        ("jak zmienić język bota na ukraiński?", "bot-language"),
        # Another city in the story, the question about this one.
        (
            "Przeprowadziłem się z Wrocławia pół roku temu i nikogo tu nie znam. "
            "Jak znaleźć wolontariat w Krakowie?",
            "volunteering",
        ),
        # Where the asker comes from does not matter to this bot's or a national entry.
        ("Я з Харкова, як підписатися на сповіщення цього бота?", "bot-subscribe"),
        ("Jestem ze Lwowa, jak zmienić język bota na ukraiński?", "bot-language"),
        ("Jak fundacja z Gdańska może uzyskać status OPP?", "opp-status"),
    ],
)
def test_the_city_s_own_mechanism_is_still_answered(
    matcher: FaqMatcher, question: str, faq_id: str
) -> None:
    result = matcher.ask(question)
    assert (result.status, result.id) == ("answer", faq_id)


def test_a_place_named_with_the_city_itself_is_in_scope(rules: ScopeRules) -> None:
    text = "Czy mieszkaniec Warszawy może głosować w budżecie obywatelskim Krakowa?"
    assert rules.not_for(text, "civic-budget") is None
    assert rules.not_for("Czy mieszkaniec Warszawy może głosować?", "civic-budget")


def test_only_a_sentence_that_asks_counts(rules: ScopeRules) -> None:
    story = (
        "Mieszkałam wcześniej w Gdańsku i tam pomagałam w schronisku dla zwierząt przez dwa lata. "
        "Teraz szukam czegoś podobnego. Jak znaleźć wolontariat?"
    )
    assert rules.not_for(story, "volunteering") is None
    assert rules.not_for("Jak znaleźć wolontariat w Gdańsku?", "volunteering")


def test_entries_anywhere_and_national_are_ruled_out_as_listed(rules: ScopeRules) -> None:
    # [anywhere] entries: no place rules them out; national ones: only places abroad.
    assert rules.not_for("Я з Харкова, як підписатися?", "bot-subscribe") is None
    assert rules.not_for("Jak fundacja z Gdańska może zostać OPP?", "opp-status") is None
    assert rules.not_for("як отримати статус OPP у Дніпрі", "opp-status")
    assert rules.not_for("волонтерство у Харкові", "volunteering")
    assert rules.not_for("wolontariat w Gdańsku", "volunteering")


def test_an_entry_s_owners_apply_to_that_entry_only(rules: ScopeRules) -> None:
    text = "jak dostać patronat medialny?"
    assert rules.not_for(text, "mayor-patronage") == "medialny"
    assert rules.not_for(text, "partnership") is None


def test_a_short_stem_does_not_name_a_place(rules: ScopeRules) -> None:
    # "Poznań" and "poznać" share the stem "pozn": only the written forms count.
    assert rules.not_for("Chcę poznać ludzi przez wolontariat", "volunteering") is None
    assert rules.not_for("Wolontariat w Poznaniu?", "volunteering")


def test_a_word_marked_exact_matches_as_written_only(rules: ScopeRules) -> None:
    # "=mieszkanie": its stem "mieszk" is also that of "mieszkam" (I live).
    assert rules.not_for("wkład własny na mieszkanie", "own-contribution-fund") == "=mieszkanie"
    lives_here = "Mieszkam w Krakowie, skąd wziąć wkład własny do projektu unijnego?"
    assert rules.not_for(lives_here, "own-contribution-fund") is None


def test_romanised_ukrainian_is_read_in_cyrillic(rules: ScopeRules) -> None:
    # "brauzeri" is no Polish word: only its Cyrillic reading, "браузері", is listed.
    assert rules.not_for("yak zminyty movu v brauzeri", "bot-language", romanised=True)
    assert rules.not_for("yak zminyty movu v brauzeri", "bot-language") is None


def test_a_vetoed_entry_in_a_choice_abstains(tmp_path: Path) -> None:
    target = tmp_path / "content"
    shutil.copytree(packaged_content_dir(), target)
    question = "KP-2 patronat czy partnerstwo?"
    before = FaqMatcher(load_faq(target)).ask(question)
    assert before.status == "choice" and "partnership" in before.candidates
    (target / "faq" / ELSEWHERE_FILE).write_text(
        '[partnership]\npl = ["partnerstwo"]\n', encoding="utf-8"
    )
    after = FaqMatcher(load_faq(target)).ask(question)
    assert (after.status, after.candidates) == ("abstain", ())


def test_the_file_is_optional(tmp_path: Path) -> None:
    target = tmp_path / "content"
    shutil.copytree(packaged_content_dir(), target)
    (target / "faq" / ELSEWHERE_FILE).unlink()
    result = FaqMatcher(load_faq(target)).ask("Kiedy jest głosowanie w budżecie Wrocławia?")
    assert (result.status, result.id) == ("answer", "civic-budget")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[no-such-entry]\npl = ["x"]\n', "no-such-entry"),
        ('[home]\nxx = ["Kraków"]\n', "language"),
        ('[home]\npl = "Kraków"\n', "list"),
        ('[anywhere]\nentries = ["no-such-entry"]\n', "no-such-entry"),
        ('[anywhere]\nnational = "opp-status"\n', "list of entry ids"),
        ('[anywhere]\npl = ["Kraków"]\n', "only the keys"),
    ],
)
def test_a_malformed_file_fails_loudly(tmp_path: Path, text: str, match: str) -> None:
    target = tmp_path / "content"
    shutil.copytree(packaged_content_dir(), target)
    (target / "faq" / ELSEWHERE_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(FaqContentError, match=match):
        load_faq(target)
