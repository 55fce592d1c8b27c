"""The small HTML subset replies use: escaping, conversion to plain text, splitting."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_TAG = re.compile(r"<(/?)(b|i|code|a)(?:\s+href=\"([^\"]*)\")?\s*>")
_LINK = re.compile(r"<a href=\"([^\"]*)\">(.*?)</a>", re.DOTALL)


def escape(text: str) -> str:
    """Escape user- or staff-supplied text for the HTML subset."""
    return html.escape(text, quote=True)


def link(url: str, label: str | None = None) -> str:
    """An <a> element with both parts escaped."""
    return f'<a href="{escape(url)}">{escape(label if label is not None else url)}</a>'


def bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"


def to_plain_text(markup: str) -> str:
    """Render the subset as plain text: links become 'label (url)' unless the label is the url."""

    def _link_text(match: re.Match[str]) -> str:
        url, label = html.unescape(match.group(1)), match.group(2)
        plain_label = html.unescape(_TAG.sub("", label))
        return plain_label if plain_label == url else f"{plain_label} ({url})"

    without_links = _LINK.sub(lambda m: escape(_link_text(m)), markup)
    return html.unescape(_TAG.sub("", without_links))


_TOKEN = re.compile(r"(<[^>]*>)")
_TAG_NAME = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9-]+)")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
_ATOM = re.compile(_ENTITY.pattern + "|.", re.DOTALL)  # an entity or one character: never cut
_TELEGRAM_ENTITIES = frozenset({"&lt;", "&gt;", "&amp;", "&quot;"})  # and numeric ones


def utf16_length(text: str) -> int:
    """Length as chat platforms count it (Telegram counts UTF-16 code units)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _entity_length(entity: str) -> int:
    """What one entity counts once parsed: its character; an unknown one as written."""
    if entity.startswith("&#") or entity in _TELEGRAM_ENTITIES:
        return utf16_length(html.unescape(entity))
    return utf16_length(entity)


def _text_length(text: str) -> int:
    """The rendered length of text without tags: each entity counts as its character."""
    total, last = 0, 0
    for match in _ENTITY.finditer(text):
        total += utf16_length(text[last : match.start()]) + _entity_length(match.group())
        last = match.end()
    return total + utf16_length(text[last:])


def rendered_length(markup: str) -> int:
    """How long Telegram counts markup: the text after entity parsing, in UTF-16 units.

    Tags count nothing (nor a link's address), `&amp;` counts 1: Telegram's 4096-character
    limit applies to this, not to the HTML we send.
    """
    return _text_length(_TOKEN.sub("", markup))


def split_markup(markup: str, limit: int) -> list[str]:
    """Split markup into chunks whose rendered text is at most `limit` UTF-16 units.

    A text that fits once rendered (see `rendered_length`) is never split, however long its
    escaped HTML. Otherwise cuts prefer line breaks, then spaces; no chunk ends inside a tag or
    an entity such as `&amp;`, and tags open at a cut are closed at the end of one chunk and
    reopened at the start of the next.
    """
    if rendered_length(markup) <= limit:
        return [markup]
    splitter = _Splitter(limit)
    for token in _TOKEN.split(markup):
        if token.startswith("<"):
            splitter.add_tag(token)
        elif token:
            for piece in _text_pieces(token, max(16, limit // 2)):
                splitter.add_text(piece)
    return splitter.finish()


class _Splitter:
    """Chunks being filled: the current one, its rendered length, the tags open in it, and
    where its last line break was (the preferred cut)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[str] = []
        self.current = ""
        self.length = 0
        self.open_tags: list[tuple[str, str]] = []
        self.line_end: _Cut | None = None

    def add_tag(self, tag: str) -> None:
        self.current += tag  # counts nothing once rendered
        match = _TAG_NAME.match(tag)
        if match and match.group(1):
            if self.open_tags and self.open_tags[-1][0] == match.group(2).lower():
                self.open_tags.pop()
        elif match and not tag.endswith("/>"):
            self.open_tags.append((match.group(2).lower(), tag))

    def add_text(self, piece: str) -> None:
        size = _text_length(piece)
        if self.length + size > self.limit:
            self.cut()
        if self.length + size > self.limit:
            self.cut()  # no line break to cut at (or still too long after it): cut here
        if self.length == 0 and piece.startswith("\n"):
            piece = piece.lstrip("\n")
            size = _text_length(piece)
        self.current += piece
        self.length += size
        if piece.endswith("\n"):
            self.line_end = _Cut(len(self.current), self.length, tuple(self.open_tags))

    def cut(self) -> None:
        """End a chunk at its last line break if it has one, else here; the rest goes on."""
        line_end, self.line_end = self.line_end, None
        if line_end is None:
            line_end = _Cut(len(self.current), self.length, tuple(self.open_tags))
        head, rest = self.current[: line_end.position], self.current[line_end.position :]
        self._emit(head, line_end.open_tags)
        reopened = "".join(tag for _name, tag in line_end.open_tags)
        self.current = reopened + rest.lstrip("\n")
        self.length -= line_end.length
        if rest.startswith("\n"):
            self.length -= len(rest) - len(rest.lstrip("\n"))

    def _emit(self, body: str, open_tags: tuple[tuple[str, str], ...]) -> None:
        closing = "".join(f"</{name}>" for name, _tag in reversed(open_tags))
        chunk = _without_empty_elements(body.rstrip("\n") + closing)
        if _TOKEN.sub("", chunk).strip():
            self.chunks.append(chunk)

    def finish(self) -> list[str]:
        self._emit(self.current, tuple(self.open_tags))
        return self.chunks


@dataclass(frozen=True)
class _Cut:
    """A place to end a chunk: where in it, its rendered length there, the tags open there."""

    position: int
    length: int
    open_tags: tuple[tuple[str, str], ...]


_EMPTY_ELEMENT = re.compile(r"<(b|i|u|s|code|pre|a)(?:\s[^>]*)?></\1>")


def _without_empty_elements(chunk: str) -> str:
    """Drop elements left without text by a cut (`<i></i>`), innermost first."""
    while True:
        shorter = _EMPTY_ELEMENT.sub("", chunk)
        if shorter == chunk:
            return chunk
        chunk = shorter


def _text_pieces(text: str, longest: int) -> list[str]:
    """Text cut at line breaks, then spaces, then between entities and characters, in pieces of
    at most `longest` rendered units."""
    pieces: list[str] = []
    for line in re.split(r"(?<=\n)", text):
        if _text_length(line) <= longest:
            pieces.append(line)
            continue
        for word in re.split(r"(?<= )", line):
            while _text_length(word) > longest:
                cut = _safe_cut(word, longest)
                pieces.append(word[:cut])
                word = word[cut:]
            pieces.append(word)
    return [piece for piece in pieces if piece]


def _safe_cut(text: str, longest: int) -> int:
    """The longest prefix within `longest` rendered units that does not end inside an entity
    like `&amp;` (nor between the halves of a character): at least one whole atom."""
    size, cut = 0, 0
    for match in _ATOM.finditer(text):
        atom = match.group()
        size += _entity_length(atom) if len(atom) > 1 else utf16_length(atom)
        if size > longest:
            break
        cut = match.end()
    if cut:
        return cut
    first = _ATOM.match(text)
    return first.end() if first else len(text)
