"""Small charts as inline SVG: no chart library, no script, they print sharply and open anywhere.

A report's summary panel shows one stacked horizontal bar chart (e.g. assets by use status per village): the
kind of picture people would rather look at than read a table for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from gis_service.reports.i18n import format_number


@dataclass(frozen=True)
class Segment:
    """One part of a bar: its value, colour and what it is (shown on hover and read by screen readers)."""

    value: float
    color: str
    label: str


@dataclass(frozen=True)
class Bar:
    label: str
    segments: tuple[Segment, ...]

    @property
    def total(self) -> float:
        return sum(s.value for s in self.segments)


@dataclass(frozen=True)
class ChartLayout:
    """Sizes in pixels; the SVG scales with its container (``viewBox``)."""

    width: int = 300
    label_width: int = 62
    total_width: int = 44
    row_height: int = 16
    bar_height: int = 11
    font_size: int = 11


def stacked_bar_chart(bars: Sequence[Bar], *, title: str, unit: str = "",
                      layout: ChartLayout | None = None) -> Markup:
    """An SVG chart with one horizontal bar per item, stacked by segment, its total written at the end.

    Parameters
    ----------
    bars
        One per row, top to bottom.
    title
        The chart's accessible name (``<title>``); the panel shows a visible caption itself.
    unit
        Appended to the totals and hover texts, e.g. ``人``.
    layout
        Sizes; the defaults fit a 300-pixel panel.

    Examples
    --------
    >>> svg = stacked_bar_chart([Bar("永丰村", (Segment(3, "#d7301f", "闲置"),))], title="资产")
    >>> svg.startswith("<svg")
    True
    """
    layout = layout or ChartLayout()
    scale_max = max((bar.total for bar in bars), default=0) or 1
    plot_width = layout.width - layout.label_width - layout.total_width
    height = layout.row_height * len(bars) + 4
    rows = [_row(i, bar, plot_width / scale_max, unit, layout) for i, bar in enumerate(bars)]
    return Markup(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {layout.width} {height}" '
        f'width="100%" font-size="{layout.font_size}"><title>{escape(title)}</title>{"".join(rows)}</svg>'
    )


def _row(index: int, bar: Bar, px_per_unit: float, unit: str, layout: ChartLayout) -> str:
    y = 2 + index * layout.row_height
    text_y = y + layout.bar_height - 1
    parts = [f'<text x="{layout.label_width - 4}" y="{text_y}" text-anchor="end">{escape(bar.label)}</text>']
    x = float(layout.label_width)
    for segment in bar.segments:
        if segment.value <= 0:
            continue
        width = segment.value * px_per_unit
        hover = f"{bar.label} · {segment.label}: {format_number(segment.value)}{unit}"
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{layout.bar_height}" '
                     f'fill="{escape(segment.color)}" stroke="#ffffff" stroke-width="0.5">'
                     f"<title>{escape(hover)}</title></rect>")
        x += width
    parts.append(f'<text x="{x + 3:.1f}" y="{text_y}" fill="#444444">{escape(format_number(bar.total))}</text>')
    return f'<g class="chart-row">{"".join(parts)}</g>'
