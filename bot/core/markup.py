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
