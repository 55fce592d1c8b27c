"""The small HTML subset replies use: escaping, and conversion to plain text."""

from __future__ import annotations

import html
import re

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


def utf16_length(text: str) -> int:
    """Length as chat platforms count it (Telegram counts UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def split_markup(markup: str, limit: int) -> list[str]:
    """Split markup into chunks of at most `limit` UTF-16 units, preferring line breaks.

    Tags open at a cut are closed at the end of one chunk and reopened at the start of the next,
    and no chunk ends inside a tag or an entity such as `&amp;`. The source length is measured,
    which is never less than what the platform counts after parsing, so chunks always fit.
    """
    if utf16_length(markup) <= limit:
        return [markup]
    chunks: list[str] = []
    current = ""
    open_tags: list[tuple[str, str]] = []

    def closing() -> str:
        return "".join(f"</{name}>" for name, _tag in reversed(open_tags))

    def flush() -> None:
        nonlocal current
        body = current.rstrip("\n")
        if _TOKEN.sub("", body).strip():
            chunks.append(body + closing())
        current = "".join(tag for _name, tag in open_tags)

    def add(piece: str) -> None:
        nonlocal current
        if utf16_length(current + piece + closing()) > limit:
            flush()
            if current == "" and piece.startswith("\n"):
                piece = piece.lstrip("\n")
        current += piece

    for token in _TOKEN.split(markup):
        if not token:
            continue
        if token.startswith("<"):
            add(token)
            match = _TAG_NAME.match(token)
            if match and match.group(1):
                if open_tags and open_tags[-1][0] == match.group(2).lower():
                    open_tags.pop()
            elif match and not token.endswith("/>"):
                open_tags.append((match.group(2).lower(), token))
            continue
        for piece in _text_pieces(token, max(16, limit // 2)):
            add(piece)
    flush()
    return chunks


def _text_pieces(text: str, longest: int) -> list[str]:
    """Text cut at line breaks, then spaces, then safe characters, in pieces <= `longest`."""
    pieces: list[str] = []
    for line in re.split(r"(?<=\n)", text):
        if utf16_length(line) <= longest:
            pieces.append(line)
            continue
        for word in re.split(r"(?<= )", line):
            while utf16_length(word) > longest:
                cut = _safe_cut(word, longest)
                pieces.append(word[:cut])
                word = word[cut:]
            pieces.append(word)
    return [piece for piece in pieces if piece]


def _safe_cut(text: str, longest: int) -> int:
    """A cut position within `longest` units that is not inside an entity like `&amp;`."""
    cut = longest
    while utf16_length(text[:cut]) > longest:
        cut -= 1
    amp = text.rfind("&", max(0, cut - 10), cut)
    if amp != -1 and ";" not in text[amp:cut]:
        cut = amp
    return max(cut, 1)
