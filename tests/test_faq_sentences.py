"""Long messages: the sentences that ask weigh more than the story around them."""

from __future__ import annotations

import pytest

from bot.faq import FaqMatcher, load_faq
from bot.faq.sentences import STORY_WEIGHT, asks, split_sentences, weigh_sentences

STORY = (
    "Dzień dobry, prowadzę z mężem małą fundację, która od lat rozlicza PIT-y seniorom "
    "i pomaga im przekazać 1,5% podatku. Teraz nasze córki mają wakacje i nudzą się w domu. "
    "Gdzie mogą znaleźć wolontariat na lato?"
)


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher(load_faq())


def test_sentences_split_at_ends_and_line_breaks() -> None:
    assert split_sentences("Mam pytanie. Jak to zrobić?Dzięki!\nDrugie") == [
        "Mam pytanie.",
        "Jak to zrobić?",
        "Dzięki!",
        "Drugie",
    ]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Jak założyć stowarzyszenie", True),
        ("czy miasto pomoże", True),
        ("Як подати заявку", True),
        ("Підкажіть, будь ласка, де шукати", True),
        ("no i gdzie to jest", True),  # a question word among the first four
        ("Mieszkam w Krakowie od dziesięciu lat.", False),
        # English "do" asks only at the start: in Polish it is "to".
        ("Przeprowadziłem się do Krakowa pół roku temu.", False),
        ("Do I need a statute for an association", True),
        ("Ми громадська організація.", False),
        ("", False),
    ],
)
def test_a_sentence_asks_by_its_question_mark_or_words(sentence: str, expected: bool) -> None:
    assert asks(sentence) is expected


def test_the_story_weighs_less_than_the_question() -> None:
    weighted = weigh_sentences(STORY)
    assert [s.weight for s in weighted] == [STORY_WEIGHT, STORY_WEIGHT, 1.0]
    assert weighted[-1].text == "Gdzie mogą znaleźć wolontariat na lato?"


@pytest.mark.parametrize(
    "text",
    [
        "Jak przekazać 1,5%?",  # short: nothing to set apart
        "Mieszkam w Krakowie. Mam fundację. Robimy warsztaty dla dzieci i seniorów od lat.",
        "Jak to zrobić? Gdzie to złożyć? Kiedy jest termin? Kto to rozpatruje i ile trwa?",
    ],
)
def test_without_a_story_and_a_question_every_word_counts_the_same(text: str) -> None:
    assert [s.weight for s in weigh_sentences(text)] == [1.0]


def test_the_question_inside_a_story_is_answered_not_the_story(matcher: FaqMatcher) -> None:
    result = matcher.ask(STORY)
    assert (result.status, result.id) == ("answer", "volunteering")


def test_a_ukrainian_story_is_answered_by_its_question(matcher: FaqMatcher) -> None:
    story = (
        "Я з Харкова, живу в Кракові вже два роки і працюю в кав'ярні. "
        "Ми з друзями часто допомагаємо українським дітям з уроками. "
        "Як нам зареєструвати звичайне об'єднання, щоб діяти офіційно?"
    )
    result = matcher.ask(story)
    assert (result.status, result.id, result.lang) == ("answer", "ordinary-association", "uk")


def lead(matcher: FaqMatcher, text: str, winner: str, loser: str) -> float:
    scores = dict(matcher.rank(text))
    return scores.get(winner, 0.0) - scores.get(loser, 0.0)


def test_weighing_widens_the_lead_of_the_question_over_the_story(
    matcher: FaqMatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    weighted = lead(matcher, STORY, "volunteering", "tax-1-5")
    monkeypatch.setattr("bot.faq.sentences.STORY_WEIGHT", 1.0)
    unweighted = lead(matcher, STORY, "volunteering", "tax-1-5")
    assert weighted > unweighted + 0.1
