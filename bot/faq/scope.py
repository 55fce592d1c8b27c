"""Questions about an entry's mechanism somewhere else, or someone else's.

Every answer is about this city's mechanism or this bot. A question that names
another place ("budżet obywatelski Warszawy") or another owner ("patronat
medialny radia", a bank's notifications in Viber) shares the entry's words and
would be answered wrongly, however well it matches. ``elsewhere.toml`` lists,
per language:

- ``[home]``: words naming this city ("Kraków" and its Ukrainian spelling);
- ``[everywhere]``: other places in the country, which no entry is about; a
  question naming one is out of scope unless it also names the city itself
  ("przeprowadziłem się z Wrocławia do Krakowa" stays in scope);
- ``[<entry id>]``: owners or objects that make a question not this entry's
  (for ``mayor-patronage``: "patronat medialny", "ambasada");
- ``[abroad]``: places abroad, like ``[everywhere]``;
- ``[anywhere]``: ``entries`` whose answer holds wherever the asker lives or
  comes from (this bot's own entries, the 1.5 % of the tax), which no place
  rules out ("I am from Kharkiv, how do I subscribe?"), and ``national`` ones (the OPP
  status) that only ``[abroad]`` rules out.

A phrase matches a sentence that asks (``bot.faq.sentences``: the story
around a question may mention anything) when each of its words is there in
some form (the matcher's stems and lemmas, in any order; as written only when
the phrase starts with "="). The matcher then
abstains rather than answer or offer that entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.faq.content import (
    ELSEWHERE_ABROAD,
    ELSEWHERE_EVERYWHERE,
    ELSEWHERE_HOME,
    ELSEWHERE_PLACES,
    FaqContent,
)
from bot.faq.normalize import Token, term_forms, tokenize
from bot.faq.sentences import weigh_sentences
from bot.faq.translit import to_cyrillic

# A phrase: for each of its words, the forms any of which must be present.
Phrase = tuple[frozenset[str], ...]


# A Polish or English stem shorter than this is too loose to name a place or an
# owner ("Poznań" and "poznać" share "pozn"); the word as written still counts.
_MIN_STEM = 5


def _word_forms(token: Token, romanised: bool) -> frozenset[str]:
    """A word's forms (stop words too: "Kraków" is one), its Cyrillic reading included.

    Ukrainian lemmas come from a dictionary and count at any length; Latin
    stems only from ``_MIN_STEM`` letters on.
    """
    forms = {
        form
        for form in term_forms(token)
        if token.script != "latin" or form == token.text or len(form) >= _MIN_STEM
    }
    if romanised and token.script == "latin" and not token.acronym:
        forms.update(term_forms(Token(to_cyrillic(token.text), "cyrillic")))
    return frozenset(forms)


# A listed phrase written "=mieszkanie" matches its words as written only: the
# stem "mieszk" would also find "mieszkam" (I live), in nearly every story.
EXACT_MARK = "="


def compile_phrase(text: str) -> Phrase:
    """A phrase's words as sets of forms (as written only after ``EXACT_MARK``)."""
    if text.startswith(EXACT_MARK):
        return tuple(frozenset({token.text}) for token in tokenize(text[len(EXACT_MARK) :]))
    return tuple(_word_forms(token, romanised=False) for token in tokenize(text))


def _compile(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, Phrase], ...]:
    compiled = ((text, compile_phrase(text)) for _, text in pairs)
    return tuple((text, phrase) for text, phrase in compiled if phrase)


def _matches(phrase: Phrase, forms: frozenset[str]) -> bool:
    return all(word & forms for word in phrase)


@dataclass(frozen=True, slots=True)
class ScopeRules:
    """The compiled elsewhere.toml of one content."""

    home: tuple[tuple[str, Phrase], ...] = ()
    everywhere: tuple[tuple[str, Phrase], ...] = ()
    by_entry: Mapping[str, tuple[tuple[str, Phrase], ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    abroad: tuple[tuple[str, Phrase], ...] = ()
    # Entries that no place rules out, and those that only places abroad do.
    anywhere: frozenset[str] = frozenset()
    national: frozenset[str] = frozenset()

    @classmethod
    def from_content(cls, content: FaqContent) -> ScopeRules:
        tables = content.elsewhere
        by_entry = {
            table: _compile(pairs)
            for table, pairs in tables.items()
            if table not in ELSEWHERE_PLACES
        }
        return cls(
            home=_compile(tables.get(ELSEWHERE_HOME, ())),
            everywhere=_compile(tables.get(ELSEWHERE_EVERYWHERE, ())),
            abroad=_compile(tables.get(ELSEWHERE_ABROAD, ())),
            by_entry=MappingProxyType(by_entry),
            anywhere=content.anywhere,
            national=content.national,
        )

    def _places(self, faq_id: str) -> tuple[tuple[str, Phrase], ...]:
        """The other places that rule ``faq_id`` out."""
        if faq_id in self.anywhere:
            return ()
        if faq_id in self.national:
            return self.abroad
        return self.everywhere + self.abroad

    def not_for(self, text: str, faq_id: str, romanised: bool = False) -> str | None:
        """The listed phrase that makes ``text`` not ``faq_id``'s question, or None."""
        own = self.by_entry.get(faq_id, ())
        everywhere = self._places(faq_id)
        if not own and not everywhere:
            return None
        whole = _text_forms(text, romanised)
        at_home = any(_matches(phrase, whole) for _, phrase in self.home)
        for sentence in weigh_sentences(text):
            if sentence.weight < 1.0:
                continue
            forms = _text_forms(sentence.text, romanised)
            for listed, phrase in own:
                if _matches(phrase, forms):
                    return listed
            if at_home:
                continue
            for listed, phrase in everywhere:
                if _matches(phrase, forms):
                    return listed
        return None


def own_wording_conflicts(content: FaqContent) -> list[tuple[str, str, str, str]]:
    """(entry id, language, phrase, listed word) for each entry's own wording it would refuse.

    A listed word that collides with an entry's title, variants or keywords
    (the Ukrainian lemma of Radom, the city, is "rada", a council) would make
    the entry refuse its own questions; ``faq check`` reports these.
    """
    rules = ScopeRules.from_content(content)
    return [
        (faq_id, lang, phrase, listed)
        for faq_id, entry in content.entries.items()
        for lang, _, phrase in entry.phrases()
        if (listed := rules.not_for(phrase, faq_id))
    ]


def _text_forms(text: str, romanised: bool) -> frozenset[str]:
    forms: set[str] = set()
    for token in tokenize(text):
        forms |= _word_forms(token, romanised)
    return frozenset(forms)
