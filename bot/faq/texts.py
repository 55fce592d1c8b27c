"""Interface sentences of the FAQ: "I don't know" and "which one did you mean?".

MOVE TO CATALOGS: these are interface strings, not content. They live here,
in one dictionary per sentence, only until ``bot/i18n.py`` and the Babel
catalogs exist; then each becomes ``_("...")`` (the English text is the msgid)
with the Polish and Ukrainian translations in ``locales/*/messages.po``, and
these dictionaries go away. The matcher itself never produces words.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# MOVE TO CATALOGS (msgid = the "en" text).
_ABSTAIN: Mapping[str, str] = MappingProxyType(
    {
        "pl": (
            "Niestety nie znam odpowiedzi na to pytanie. Wpisz /help, aby zobaczyć, w czym mogę "
            "pomóc, albo zapytaj, jak skontaktować się z Pełnomocnikiem Prezydenta Miasta Krakowa "
            "ds. Organizacji Pozarządowych."
        ),
        "uk": (
            "На жаль, я не знаю відповіді на це запитання. Напишіть /help, щоб побачити, з чим я "
            "можу допомогти, або запитайте, як зв'язатися з Уповноваженим Президента міста Кракова "
            "у справах неурядових організацій."
        ),
        "en": (
            "Sorry, I don't know the answer to that. Type /help to see what I can help with, "
            "or ask how to contact the Kraków Mayor's Plenipotentiary for NGOs."
        ),
    }
)

# MOVE TO CATALOGS (msgid = the "en" text).
_CHOICE: Mapping[str, str] = MappingProxyType(
    {
        "pl": "Nie mam pewności, o co pytasz. Chodzi o jedno z tych?",
        "uk": "Уточніть, будь ласка, що саме вас цікавить. Одне з цього?",
        "en": "I'm not sure what you mean. Is it one of these?",
    }
)


def abstain_text(lang: str) -> str:
    """The "I don't know" sentence in ``lang`` (Polish for an unknown language)."""
    return _ABSTAIN.get(lang, _ABSTAIN["pl"])


def choice_text(lang: str) -> str:
    """The sentence introducing a choice between entries, in ``lang``."""
    return _CHOICE.get(lang, _CHOICE["pl"])
