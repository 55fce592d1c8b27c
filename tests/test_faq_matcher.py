"""The matcher: answers, choices and abstentions, in the asker's language."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.faq import (
    REQUIRED_IDS,
    FaqMatcher,
    abstain_text,
    choice_text,
    load_faq,
    render_answer,
)
from bot.faq.content import packaged_content_dir

DATA = Path(__file__).parent / "data"

# One Polish and one Ukrainian question per FAQ id, worded unlike the content.
QUESTIONS: dict[str, tuple[str, str]] = {
    "tax-1-5": (
        "do kiedy mam czas zeby wskazac organizacje w e-picie",
        "Куди писати номер KRS у декларації і чи це безкоштовно для мене?",
    ),
    "opp-status": (
        "jakie warunki trzeba spelnic zeby dostac status opp",
        "Які умови, щоб фонд став організацією громадської користі і міг отримувати 1,5%?",
    ),
    "local-initiative": (
        "Chcemy z mieszkańcami bloku zrobić ogródek społeczny, a miasto dałoby materiały. "
        "Jaki wniosek?",
        "Ми, мешканці будинку, хочемо разом з містом облаштувати сквер. З чого почати?",
    ),
    "ordinary-association": (
        "W ile osób można założyć stowarzyszenie i czy potrzebny jest regulamin?",
        "Як зареєструвати громадське об'єднання в Кракові? Нас троє",
    ),
    "grant-competitions": (
        "Szukamy pieniędzy na warsztaty dla seniorów – jakie konkursy ofert są otwarte?",
        "Де подивитися оголошення про конкурси грантів для НУО в Кракові?",
    ),
    "small-grants": (
        "maly grant do 10 tys bez konkursu jak to dziala",
        "Чи можна отримати невеликий грант без конкурсу на короткий проєкт?",
    ),
    "own-contribution-fund": (
        "Mamy projekt z Erasmusa i brakuje nam pieniędzy na wkład własny. Czy miasto coś oferuje?",
        "Чи допомагає місто з власним внеском до проєкту з грантом ЄС?",
    ),
    "krdpp": (
        "sklad rady pozytku i terminy jej posiedzen",
        "Як наша організація може проголосувати на виборах до KRDPP?",
    ),
    "kdo": (
        "Czy nasze stowarzyszenie może wejść do KDO przy wydziale kultury?",
        "Що таке KDO і хто там працює?",
    ),
    "partnership": (
        "czy miasto moze byc partnerem naszego projektu",
        "Як зробити місто Краків партнером нашого благодійного забігу?",
    ),
    "mayor-patronage": (
        "czy prezydent krakowa obejmie patronatem nasz festiwal",
        "Як отримати почесний патронат мера Кракова для нашої виставки?",
    ),
    "third-place": (
        "W jakiej kawiarni będzie najbliższe spotkanie pełnomocnika z organizacjami?",
        "Коли наступна зустріч «у третьому місці»?",
    ),
    "civic-budget": (
        "Czy mój 15-letni syn może głosować w budżecie obywatelskim?",
        "Чи можу я голосувати в громадському бюджеті, якщо я з України?",
    ),
    "contact": (
        "telefon do biura pelnomocnika",
        "Де знаходиться офіс уповноваженого і який телефон?",
    ),
    "volunteering": (
        "Chciałabym pomagać jako wolontariuszka w weekendy, gdzie się zgłosić?",
        "Я на пенсії, маю багато часу. Де можна допомагати як волонтер?",
    ),
    "bot-subscribe": (
        "Chciałabym, żeby bot przypominał mi o terminach konkursów. Jak to ustawić?",
        "Хочу отримувати сповіщення про зустрічі",
    ),
    "bot-unsubscribe": (
        "Nie chcę więcej powiadomień o podatkach, jak je wyłączyć?",
        "Я більше не працюю в НУО, як припинити всі розсилки від бота?",
    ),
    "bot-language": (
        "bot pisze po angielsku a chce po polsku",
        "Бот пише мені польською, а я хочу українською",
    ),
    "bot-privacy": (
        "Chcę usunąć wszystkie swoje dane z tego czatu",
        "Які мої дані зберігає бот і як їх видалити?",
    ),
}

OUT_OF_SCOPE = [
    "wniosek",
    "jak złożyć wniosek",
    "podatek",
    "rejestracja",
    "Ile wynosi podatek od nieruchomości za mieszkanie?",
    "Jak zarejestrować samochód kupiony w Niemczech?",
    "Gdzie złożyć wniosek o kartę pobytu czasowego?",
    "Kiedy przyjdzie 800 plus na dziecko?",
    "Którym autobusem dojadę do szpitala?",
    "Jaka będzie pogoda w sobotę?",
    "Jak rozliczyć PIT i kiedy będzie zwrot?",
    "Dotacja na wymianę pieca – gdzie złożyć wniosek?",
    "Як продовжити карту побиту?",
    "Яка погода в неділю?",
    "Скільки коштує квиток на трамвай?",
    "Коли прийде виплата 800 плюс?",
    "Як зареєструвати автомобіль?",
    "Який податок на нерухомість у Кракові?",
    "привіт, ти тут?",
    "What's the weather tomorrow?",
    "hej, co słychać?",
    "dziękuję",
]

NONSENSE = [
    "",
    "   ",
    "???",
    "asdf qwer zxcv",
    "ыыыы",
    "ффф ввв",
    "12345",
    "!!!!",
    "lorem ipsum dolor",
]


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher(load_faq())


def test_question_table_covers_every_id() -> None:
    assert set(QUESTIONS) == set(REQUIRED_IDS)


@pytest.mark.parametrize("faq_id", REQUIRED_IDS)
@pytest.mark.parametrize("lang_index", [0, 1], ids=["pl", "uk"])
def test_every_id_is_answered_in_polish_and_ukrainian(
    matcher: FaqMatcher, faq_id: str, lang_index: int
) -> None:
    question = QUESTIONS[faq_id][lang_index]
    result = matcher.ask(question)
    assert (result.status, result.id) == ("answer", faq_id), matcher.rank(question)[:3]
    assert result.lang == ("pl", "uk")[lang_index]
    assert result.candidates == (faq_id,)
    assert 0.0 < result.score <= 1.0


@pytest.mark.parametrize("question", OUT_OF_SCOPE)
def test_out_of_scope_questions_sharing_words_with_the_faq_abstain(
    matcher: FaqMatcher, question: str
) -> None:
    result = matcher.ask(question)
    assert result.status == "abstain", (result, matcher.rank(question)[:3])
    assert result.id is None and result.candidates == ()


@pytest.mark.parametrize("question", NONSENSE)
def test_nonsense_abstains(matcher: FaqMatcher, question: str) -> None:
    result = matcher.ask(question)
    assert result.status == "abstain"
    assert result.id is None
    assert 0.0 <= result.score <= 1.0


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("KP-2 patronat czy partnerstwo?", {"mayor-patronage", "partnership"}),
        ("spotkanie z pełnomocnikiem", {"contact", "third-place"}),
        ("зустріч з уповноваженим", {"contact", "third-place"}),
    ],
)
def test_close_entries_give_a_choice_of_two(
    matcher: FaqMatcher, question: str, expected: set[str]
) -> None:
    result = matcher.ask(question)
    assert result.status == "choice"
    assert result.id is None
    assert set(result.candidates) == expected


def test_answer_language_follows_the_question_or_the_override(matcher: FaqMatcher) -> None:
    assert matcher.ask("Хочу бути волонтеркою, що робити?").lang == "uk"
    assert matcher.ask("Где найти волонтёрство в Кракове?").lang == "uk"
    assert matcher.ask("How can I become a volunteer?").lang == "en"
    assert matcher.ask("jak zostać wolontariuszem").lang == "pl"
    assert matcher.ask("Хочу бути волонтеркою, що робити?", lang="en").lang == "en"
    assert matcher.ask("KRDPP", fallback_lang="uk").lang == "uk"
    assert matcher.ask("KRDPP", fallback_lang="en").lang == "en"


def test_russian_questions_are_answered_in_ukrainian(matcher: FaqMatcher) -> None:
    result = matcher.ask("Как передать полтора процента налога благотворительному фонду?")
    assert (result.status, result.id, result.lang) == ("answer", "tax-1-5", "uk")


def test_ukrainian_question_with_polish_terms(matcher: FaqMatcher) -> None:
    result = matcher.ask("чи можна отримати гроші через tryb pozakonkursowy?")
    assert (result.id, result.lang) == ("small-grants", "uk")


def test_typos_and_missing_diacritics_are_tolerated(matcher: FaqMatcher) -> None:
    assert matcher.ask("zalozenie stowazyszenia zwyklego").id == "ordinary-association"
    assert matcher.ask("budzet obywatleski glosowanie").id == "civic-budget"
    assert matcher.ask("волонтерсвто в Кракові").id == "volunteering"


def test_a_typo_two_letters_off_in_a_short_word_is_still_read(matcher: FaqMatcher) -> None:
    """ "партнеом" (партнером) is 0.75 similar to "партнер": the typo cutoff admits it."""
    assert matcher.ask("місто як партнеом заходу").id == "partnership"


def test_unknown_language_is_rejected(matcher: FaqMatcher) -> None:
    with pytest.raises(ValueError, match="de"):
        matcher.ask("Wie kann ich helfen?", lang="de")


def test_held_out_questions_are_mostly_answered_and_never_wrong(matcher: FaqMatcher) -> None:
    """Our own held-out set: high accuracy, and no confident wrong answer at all."""
    hits = total = 0
    for line in (DATA / "faq_heldout.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        result = matcher.ask(item["q"])
        assert result.lang == item["lang"], item
        if item["id"] is None:
            assert result.status == "abstain", item
            continue
        total += 1
        if result.status == "answer":
            assert result.id == item["id"], item
            hits += 1
    assert hits / total >= 0.9


def test_rendered_answer_is_plain_text_with_links(matcher: FaqMatcher) -> None:
    content = matcher.content
    result = matcher.ask("Jak zostać wolontariuszem?")
    text = render_answer(content, result)
    entry = content.entry("volunteering").answer("pl")
    assert text.startswith(entry.text)
    assert all(link in text for link in entry.links)
    assert "<" not in text


def test_rendered_choice_lists_the_titles(matcher: FaqMatcher) -> None:
    result = matcher.ask("зустріч з уповноваженим")
    text = render_answer(matcher.content, result)
    assert text.startswith(choice_text("uk"))
    for faq_id in result.candidates:
        assert matcher.content.entry(faq_id).answer("uk").title in text


@pytest.mark.parametrize("lang", ["pl", "uk", "en"])
def test_rendered_abstention_is_in_the_askers_language(matcher: FaqMatcher, lang: str) -> None:
    result = matcher.ask("ыыы ффф", lang=lang)
    assert render_answer(matcher.content, result) == abstain_text(lang)
    assert "/help" in abstain_text(lang)


def test_interface_texts_differ_per_language() -> None:
    assert len({abstain_text(lang) for lang in ("pl", "uk", "en")}) == 3
    assert len({choice_text(lang) for lang in ("pl", "uk", "en")}) == 3


def test_english_request_falls_back_to_polish_when_the_entry_lacks_english(tmp_path: Path) -> None:
    content_dir = tmp_path / "content"
    shutil.copytree(packaged_content_dir(), content_dir)
    (content_dir / "faq" / "en.toml").unlink()
    matcher = FaqMatcher(load_faq(content_dir))
    result = matcher.ask("Jak zostać wolontariuszem?", lang="en")
    assert (result.id, result.lang) == ("volunteering", "pl")


def test_content_for_another_city_is_matched(tmp_path: Path) -> None:
    """An operator's own content folder works without the packaged decoys or Russian file."""
    faq_dir = tmp_path / "city" / "faq"
    faq_dir.mkdir(parents=True)
    for lang, title, question in [
        ("pl", "Karta mieszkańca", "Jak wyrobić kartę mieszkańca Gdańska?"),
        ("uk", "Карта мешканця", "Як отримати карту мешканця Гданська?"),
    ]:
        body = []
        for faq_id in REQUIRED_IDS:
            words = faq_id.replace("-", " ")
            body.append(
                f'[{faq_id}]\ntitle = "{faq_id}"\nanswer = "{faq_id} ({lang})"\n'
                f'links = ["https://example.org/{faq_id}"]\nvariants = ["{words}"]\n'
            )
        body.append(
            f'[city-card]\ntitle = "{title}"\nanswer = "..."\nlinks = []\n'
            f'variants = ["{question}"]\nkeywords = ["karta mieszkańca", "карта мешканця"]\n'
        )
        (faq_dir / f"{lang}.toml").write_text("\n".join(body), encoding="utf-8")
    matcher = FaqMatcher(load_faq(tmp_path / "city"))
    assert matcher.ask("karta mieszkanca jak dostac").id == "city-card"
    assert matcher.ask("карта мешканця").lang == "uk"
