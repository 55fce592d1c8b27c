"""Text rules of the fake Bot API: Telegram's HTML parser, entity detection, lengths.

The HTML parser is a port of TDLib's ``parse_html`` (td/telegram/MessageEntity.cpp), which the
Bot API server uses for ``parse_mode=HTML``: same accepted tags, same entity decoding, same error
texts and byte offsets.  Notably, like the real server, a bare ``&`` that does not start one of the
entities ``&lt; &gt; &amp; &quot; &#N; &#xN;`` is kept literally and is *not* an error; ``strict``
mode turns it into one for tests that want to catch unescaped ampersands.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_CAPTION_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "EntityParseError",
    "FormattedText",
    "find_text_entities",
    "format_text",
    "parse_html",
    "utf16_length",
]

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024

_SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "tg-time", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_SIMPLE_TAG_TYPES = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
}
_SPACES = frozenset(b" \t\r\n\0\v\f")
_SPECIAL = re.compile(rb"[&<]")  # td::is_space, including the terminating NUL


class EntityParseError(ValueError):
    """The text cannot be parsed; ``str(error)`` is the part after "can't parse entities: "."""


@dataclass(frozen=True)
class FormattedText:
    """Plain text plus Bot API ``MessageEntity`` dicts (offsets in UTF-16 code units)."""

    text: str
    entities: tuple[dict[str, Any], ...] = ()


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit of entity offsets and of Telegram's limits."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _at(data: bytes, pos: int) -> int:
    """Byte at ``pos`` or 0 past the end, like reading a NUL-terminated C string."""
    return data[pos] if pos < len(data) else 0


def _is_alpha(c: int) -> bool:
    return 65 <= c <= 90 or 97 <= c <= 122


def _is_digit(c: int) -> bool:
    return 48 <= c <= 57


def _is_hex(c: int) -> bool:
    return _is_digit(c) or 65 <= c <= 70 or 97 <= c <= 102


def _decode_entity(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an HTML entity at ``pos`` (an ``&``); return (code point or 0, position after it)."""
    end = pos + 1
    code = 0
    if _at(data, pos + 1) == ord("#"):
        end += 1
        if _at(data, pos + 2) == ord("x"):
            end += 1
            while _is_hex(_at(data, end)):
                code = code * 16 + int(chr(data[end]), 16)
                end += 1
        else:
            while _is_digit(_at(data, end)):
                code = code * 10 + data[end] - 48
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while _is_alpha(_at(data, end)):
            end += 1
        name = data[pos + 1 : end]
        code = {b"lt": 60, b"gt": 62, b"amp": 38, b"quot": 34}.get(name, 0)
        if code == 0:
            return 0, pos
    if _at(data, end) == ord(";"):
        end += 1
    return code, end


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    text_index: int  # index into the output pieces where the tag's content starts


class _HtmlParser:
    """Single-use parser state; see :func:`parse_html`."""

    def __init__(self, source: str, *, strict: bool) -> None:
        self.data = source.encode("utf-8", "surrogatepass")
        self.strict = strict
        self.out: list[str] = []
        self.utf16 = 0
        self.entities: list[dict[str, Any]] = []
        self.stack: list[_OpenTag] = []

    def run(self) -> FormattedText:
        data = self.data
        if b"\0" in data:
            raise EntityParseError("Text must not contain null bytes")
        i = 0
        plain_start = 0
        while True:
            special = _SPECIAL.search(data, i)  # jump over plain text in C
            if special is None:
                break
            i = special.start()
            c = data[i]
            self._emit_bytes(data[plain_start:i])
            if c == ord("&"):
                code, end = _decode_entity(data, i)
                if code == 0:
                    if self.strict:
                        raise EntityParseError(
                            f"Unescaped ampersand at byte offset {i} (strict mode)"
                        )
                    plain_start = i
                    i += 1
                    continue
                self._emit_char(chr(code))
                i = plain_start = end
                continue
            i = self._start_tag(i) if _at(data, i + 1) != ord("/") else self._end_tag(i)
            plain_start = i
        self._emit_bytes(data[plain_start:])
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        text = "".join(self.out)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, check for "
                "unmatched surrogate code units"
            ) from exc
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return FormattedText(text, tuple(self.entities))

    def _emit_bytes(self, chunk: bytes) -> None:
        if chunk:
            piece = chunk.decode("utf-8", "surrogatepass")
            self.out.append(piece)
            self.utf16 += utf16_length(piece)

    def _emit_char(self, ch: str) -> None:
        self.out.append(ch)
        self.utf16 += 2 if ord(ch) > 0xFFFF else 1

    def _start_tag(self, begin: int) -> int:
        data = self.data
        i = begin + 1
        while _at(data, i) not in _SPACES and _at(data, i) != ord(">"):
            i += 1
        if _at(data, i) == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        name = data[begin + 1 : i].decode("utf-8", "replace").lower()
        if name not in _SUPPORTED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {begin}')
        argument = ""
        while _at(data, i) != ord(">"):
            while _at(data, i) != 0 and _at(data, i) in _SPACES:
                i += 1
            if _at(data, i) == ord(">"):
                break
            attr_begin = i
            while _at(data, i) not in _SPACES and _at(data, i) not in b"=>/\"'":
                i += 1
            attr_name = data[attr_begin:i].decode("utf-8", "replace")
            if not attr_name:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {begin}'
                )
            while _at(data, i) != 0 and _at(data, i) in _SPACES:
                i += 1
            if _at(data, i) != ord("="):
                if _at(data, i) == 0:
                    raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
                if name == "blockquote" and attr_name == "expandable":
                    argument = "1"
                continue
            i += 1
            while _at(data, i) != 0 and _at(data, i) in _SPACES:
                i += 1
            if _at(data, i) == 0:
                raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
            value, i = self._attribute_value(i)
            if _at(data, i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            argument = self._tag_argument(name, attr_name, value, argument)
        if name == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        self.stack.append(_OpenTag(name, argument, self.utf16, len(self.out)))
        return i + 1

    def _attribute_value(self, i: int) -> tuple[str, int]:
        data = self.data
        quote = _at(data, i)
        if quote not in (ord("'"), ord('"')):
            token_begin = i
            while _is_alpha(_at(data, i)) or _is_digit(_at(data, i)) or _at(data, i) in b".-":
                i += 1
            if _at(data, i) not in _SPACES and _at(data, i) != ord(">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}")
            return data[token_begin:i].decode("ascii").lower(), i
        i += 1
        value = bytearray()
        while _at(data, i) != quote and _at(data, i) != 0:
            if data[i] == ord("&"):
                code, end = _decode_entity(data, i)
                if code != 0:
                    value += chr(code).encode("utf-8", "surrogatepass")
                    i = end
                    continue
            value.append(data[i])
            i += 1
        if _at(data, i) == quote:
            i += 1
        return value.decode("utf-8", "surrogatepass"), i

    @staticmethod
    def _tag_argument(tag: str, attr: str, value: str, current: str) -> str:
        if tag == "a" and attr == "href":
            return value
        if tag == "code" and attr == "class" and value.startswith("language-"):
            return value[len("language-") :]
        if tag == "span" and attr == "class" and value.startswith("tg-"):
            return value[len("tg-") :]
        if (tag == "tg-emoji" and attr == "emoji-id") or (tag == "tg-time" and attr == "format"):
            return value
        if tag == "blockquote" and attr == "expandable":
            return "1"
        return current

    def _end_tag(self, begin: int) -> int:
        data = self.data
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while _at(data, i) not in _SPACES and _at(data, i) != ord(">"):
            i += 1
        end_name = data[begin + 2 : i].decode("utf-8", "replace").lower()
        while _at(data, i) in _SPACES and _at(data, i) != 0:
            i += 1
        if _at(data, i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        tag = self.stack[-1]
        if end_name and end_name != tag.name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag.name}>", '
                f'found "</{end_name}>"'
            )
        if self.utf16 > tag.utf16_offset:
            self._add_entity(tag, self.utf16 - tag.utf16_offset)
        self.stack.pop()
        return i + 1

    def _add_entity(self, tag: _OpenTag, length: int) -> None:
        entity: dict[str, Any] = {"offset": tag.utf16_offset, "length": length}
        if tag.name in _SIMPLE_TAG_TYPES:
            entity["type"] = _SIMPLE_TAG_TYPES[tag.name]
        elif tag.name == "span":
            entity["type"] = "spoiler"
        elif tag.name == "tg-emoji":
            if not tag.argument.isdigit() or int(tag.argument) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=tag.argument)
        elif tag.name == "tg-time":
            return  # date entities need a unix attribute the bot never sends; keep the text only
        elif tag.name == "a":
            url = tag.argument or "".join(self.out[tag.text_index :])
            if not _looks_like_url(url):
                return  # TDLib silently drops links it cannot check
            entity.update(type="text_link", url=url)
        elif tag.name == "pre":
            last = self.entities[-1] if self.entities else None
            if (
                last
                and last["type"] == "code"
                and last.get("language")
                and (last["offset"], last["length"]) == (tag.utf16_offset, length)
            ):
                last["type"] = "pre"
                return
            entity["type"] = "pre"
        elif tag.name == "code":
            last = self.entities[-1] if self.entities else None
            if (
                last
                and last["type"] == "pre"
                and tag.argument
                and (last["offset"], last["length"]) == (tag.utf16_offset, length)
            ):
                last["language"] = tag.argument
                return
            entity["type"] = "code"
            if tag.argument:
                entity["language"] = tag.argument  # dropped below unless a <pre> wraps it
        elif tag.name == "blockquote":
            entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
        self.entities.append(entity)


def _looks_like_url(url: str) -> bool:
    """A rough stand-in for TDLib's link check: a scheme it accepts, or a dotted host name."""
    if re.match(r"(?i)^(?:https?|tg|ton|ftp)://\S+$|^mailto:\S+@\S+$", url):
        return True
    return bool(re.match(r"^[^\s/:@<>]+\.[A-Za-z]{2,}(?:[/?#]\S*)?$", url))


def parse_html(source: str, *, strict: bool = False) -> FormattedText:
    """Parse Telegram HTML; raise :class:`EntityParseError` with the real server's message."""
    result = _HtmlParser(source, strict=strict).run()
    entities = []
    for entity in result.entities:
        if entity["type"] == "code" and "language" in entity:
            entity = {k: v for k, v in entity.items() if k != "language"}
        entities.append(entity)
    return FormattedText(result.text, tuple(entities))


def _is_word_char(ch: str) -> bool:
    return ch == "_" or unicodedata.category(ch)[0] in "LN"


_COMMAND_RE = re.compile(r"/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{3,32}))?")
_MENTION_RE = re.compile(r"@([A-Za-z0-9_]{2,32})")
_URL_RE = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]}'»]")


def _utf16_offset(text: str, index: int) -> int:
    return utf16_length(text[:index])


def find_text_entities(text: str) -> list[dict[str, Any]]:
    """Entities the server detects in plain text itself: bot commands, mentions, URLs."""
    found: list[dict[str, Any]] = []
    if "/" not in text and "@" not in text:
        return found  # fast path: nothing to detect (URLs contain "/")

    def add(kind: str, start: int, end: int) -> None:
        offset = _utf16_offset(text, start)
        found.append({"type": kind, "offset": offset, "length": utf16_length(text[start:end])})

    for match in _COMMAND_RE.finditer(text):
        start, end = match.span()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if before and (_is_word_char(before) or before in "/<>"):
            continue
        if after and (_is_word_char(after) or after in "/<>@"):
            continue
        add("bot_command", start, end)
    for match in _MENTION_RE.finditer(text):
        start, end = match.span()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if (before and _is_word_char(before)) or (after and _is_word_char(after)):
            continue
        add("mention", start, end)
    for match in _URL_RE.finditer(text):
        add("url", *match.span())
    found.sort(key=lambda e: (e["offset"], -e["length"]))
    return found


_TRIM = " \t\r\n\v\f\u00a0\u2028\u2029\u200b\u3000"


def _trim(parsed: FormattedText) -> FormattedText:
    """Strip leading/trailing whitespace like the server and shift/clip entities to match."""
    text = parsed.text
    stripped_left = text.lstrip(_TRIM)
    shift = utf16_length(text) - utf16_length(stripped_left)
    result = stripped_left.rstrip(_TRIM)
    limit = utf16_length(result)
    entities = []
    for entity in parsed.entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return FormattedText(result, tuple(entities))


def format_text(
    text: str,
    parse_mode: str | None,
    explicit_entities: list[dict[str, Any]] | None = None,
    *,
    strict_html: bool = False,
) -> FormattedText:
    """Turn a sent ``text``/``caption`` plus ``parse_mode`` into what the message will contain.

    Raises :class:`EntityParseError` for broken HTML and ``ValueError("unsupported parse_mode")``
    for an unknown mode.  Markdown modes are accepted and passed through without parsing.
    """
    if not explicit_entities:
        # Broadcasts send one text to many chats: parse it once.
        return _format_cached(text, (parse_mode or "").lower(), strict_html)
    return _format(text, (parse_mode or "").lower(), explicit_entities, strict_html)


@functools.lru_cache(maxsize=256)
def _format_cached(text: str, mode: str, strict_html: bool) -> FormattedText:
    return _format(text, mode, None, strict_html)


def _format(
    text: str, mode: str, explicit_entities: list[dict[str, Any]] | None, strict_html: bool
) -> FormattedText:
    if mode == "html":
        parsed = parse_html(text, strict=strict_html)
    elif mode in ("", "markdown", "markdownv2"):
        parsed = FormattedText(text, tuple(explicit_entities or ()) if not mode else ())
    else:
        raise ValueError("unsupported parse_mode")
    trimmed = _trim(parsed)
    detected = [
        e
        for e in find_text_entities(trimmed.text)
        if not any(_overlaps(e, other) for other in trimmed.entities)
    ]
    entities = sorted([*trimmed.entities, *detected], key=lambda e: (e["offset"], -e["length"]))
    return FormattedText(trimmed.text, tuple(entities))


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if b["type"] not in ("code", "pre", "text_link"):
        return False
    return bool(a["offset"] < b["offset"] + b["length"] and b["offset"] < a["offset"] + a["length"])
