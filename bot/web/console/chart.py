"""The dashboard's chart of subscriptions, drawn on the server as SVG (no script needed).

Bars: subscriptions started each day (above the axis) and ended (below); a line: the number of
subscriptions at the end of each day. Only numbers and the catalog's words go into the SVG, all
escaped.
"""

from __future__ import annotations

from html import escape

from babel.dates import format_date

from bot.i18n import _
from bot.web.console.service import DayCount

WIDTH = 720
HEIGHT = 240
LEFT = 44
RIGHT = 10
TOP = 14
BOTTOM = 28
ADDED_COLOUR = "#1b6e3a"
REMOVED_COLOUR = "#b3261e"
TOTAL_COLOUR = "#1a4f8b"


def subscription_chart(days: list[DayCount], language: str) -> str:
    """An accessible SVG (role img, a title and a description) of the days given."""
    if not days:
        return ""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    step = plot_w / len(days)
    peak_total = max(max(d.total for d in days), 1)
    peak_bar = max(max(max(d.added, d.removed) for d in days), 1)
    axis_y = TOP + plot_h * 0.75  # bars: 3/4 of the height above the axis, 1/4 below
    up = plot_h * 0.7 / peak_bar
    down = plot_h * 0.22 / peak_bar
    first = format_date(days[0].day, "d MMM", locale=language)
    last = format_date(days[-1].day, "d MMM", locale=language)
    title = _("Subscriptions over the last {days} days").format(days=len(days))
    description = _(
        "From {first} to {last}: {added} new subscriptions, {removed} ended; {total} now."
    ).format(
        first=first,
        last=last,
        added=sum(d.added for d in days),
        removed=sum(d.removed for d in days),
        total=days[-1].total,
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'role="img" aria-labelledby="chart-title chart-desc" class="chart">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
        f'<line x1="{LEFT}" y1="{axis_y:.1f}" x2="{WIDTH - RIGHT}" y2="{axis_y:.1f}" '
        'stroke="#555" stroke-width="1"/>',
    ]
    for index, day in enumerate(days):
        x = LEFT + index * step + step * 0.15
        w = max(step * 0.7, 1)
        if day.added:
            h = day.added * up
            parts.append(
                f'<rect x="{x:.1f}" y="{axis_y - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
                f'fill="{ADDED_COLOUR}"/>'
            )
        if day.removed:
            h = day.removed * down
            parts.append(
                f'<rect x="{x:.1f}" y="{axis_y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                f'fill="{REMOVED_COLOUR}"/>'
            )
    points = " ".join(
        f"{LEFT + (i + 0.5) * step:.1f},{TOP + plot_h * (1 - d.total / peak_total) * 0.7:.1f}"
        for i, d in enumerate(days)
    )
    parts.append(
        f'<polyline points="{points}" fill="none" stroke="{TOTAL_COLOUR}" stroke-width="2"/>'
    )
    label_y = HEIGHT - 8
    parts.append(f'<text x="{LEFT}" y="{label_y}" font-size="12">{escape(first)}</text>')
    parts.append(
        f'<text x="{WIDTH - RIGHT}" y="{label_y}" font-size="12" text-anchor="end">'
        f"{escape(last)}</text>"
    )
    parts.append(
        f'<text x="4" y="{TOP + 10}" font-size="12" fill="{TOTAL_COLOUR}">{days[-1].total}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
