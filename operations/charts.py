"""Charts drawn on the server, as inline SVG: no script, nothing from elsewhere."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.formats import number_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

WIDTH, HEIGHT, AXIS = 640, 180, 24


def bar_chart(points: Sequence[tuple[str, float]], *, title: str, unit: str = "") -> SafeString:
    """One bar per (label, value), scaled to the largest value; each bar carries its
    figure as a tooltip, and the first and last labels sit under the axis."""
    peak = max((value for _label, value in points), default=0) or 1
    slot = WIDTH / max(len(points), 1)
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}"><title>{}: {}{}</title></rect>',
        (
            (
                f"{index * slot + slot * 0.1:.1f}",
                f"{HEIGHT - AXIS - (HEIGHT - AXIS * 2) * value / peak:.1f}",
                f"{slot * 0.8:.1f}",
                f"{(HEIGHT - AXIS * 2) * value / peak:.1f}",
                label,
                _figure(value),
                unit,
            )
            for index, (label, value) in enumerate(points)
        ),
    )
    ends = ""
    if points:
        ends = format_html(
            '<text x="0" y="{}" class="label">{}</text><text x="{}" y="{}" class="label" text-anchor="end">{}</text>',
            HEIGHT - 6, points[0][0], WIDTH, HEIGHT - 6, points[-1][0],
        )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}">'
        '<text x="0" y="14" class="label">{t} ({peak})</text>'
        '<line x1="0" y1="{a}" x2="{w}" y2="{a}" class="axis"/>{bars}{ends}</svg>',
        w=WIDTH, h=HEIGHT, t=title,
        peak=_("peak %(figure)s") % {"figure": _figure(peak if any(v for _label, v in points) else 0) + unit},
        a=HEIGHT - AXIS, bars=bars, ends=ends,
    )


def _figure(value: float) -> str:
    return number_format(value, 0 if float(value).is_integer() else 2, force_grouping=True)
