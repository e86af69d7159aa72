"""Server-side SVG charts for the admin: no JavaScript, no outside network.

Three shapes cover the control plane: a series with marked spans, horizontal lines and a marker
(a tripwire's metric with its baseline and window), several series over the same days (Heimdall
success rates per domain), and horizontal usage bars (a risk policy's caps).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 150, 30, 28


@dataclass(frozen=True)
class Span:
    """A shaded range of points [start, end) labelled above the plot (e.g. "baseline 95.0%") and, when given,
    a solid line across it at `level` (the span's own rate)."""

    start: int
    end: int
    label: str
    color: str = "#1f77b4"
    level: float | None = None


@dataclass(frozen=True)
class Rule:
    """A horizontal line at `y` with a label (e.g. the trigger threshold)."""

    y: float
    label: str
    color: str = "#d62728"
    dashed: bool = True


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str = ""


@dataclass
class Frame:
    """Maps data coordinates to the SVG canvas."""

    width: int
    height: int
    count: int
    y_min: float
    y_max: float
    parts: list[str] = field(default_factory=list)

    def x(self, index: float) -> float:
        inner = self.width - MARGIN_LEFT - MARGIN_RIGHT
        return MARGIN_LEFT + (inner * index / max(self.count - 1, 1))

    def y(self, value: float) -> float:
        inner = self.height - MARGIN_TOP - MARGIN_BOTTOM
        span = (self.y_max - self.y_min) or 1.0
        clipped = min(max(value, self.y_min), self.y_max)
        return MARGIN_TOP + inner * (1 - (clipped - self.y_min) / span)

    def add(self, template: str, *args) -> None:
        self.parts.append(format_html(template, *args))

    def axes(self, y_format: Callable[[float], str], x_labels: Sequence[str]) -> None:
        bottom = self.height - MARGIN_BOTTOM
        line = '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        self.add(line, MARGIN_LEFT, MARGIN_TOP, MARGIN_LEFT, bottom)
        self.add(line, MARGIN_LEFT, bottom, f"{self.x(self.count - 1):.1f}", bottom)
        for fraction in (0, 0.5, 1):
            value = self.y_min + (self.y_max - self.y_min) * fraction
            self.add(
                '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#555">{}</text>',
                MARGIN_LEFT - 6, f"{self.y(value) + 4:.1f}", y_format(value),
            )  # fmt: skip
        step = max(1, len(x_labels) // 8)
        for index in range(0, len(x_labels), step):
            self.add(
                '<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#555">{}</text>',
                f"{self.x(index):.1f}", bottom + 16, x_labels[index],
            )  # fmt: skip

    def polyline(
        self,
        values: Sequence[float | None],
        color: str,
        name: str = "",
        *,
        dots: bool = False,
        value_format: Callable[[float], str] | None = None,
    ) -> None:
        """The series as lines broken at each gap (None), with a dot on every point when `dots` (and
        always on a point that stands alone, which a line cannot show)."""
        runs: list[list[tuple[int, float]]] = [[]]
        for index, value in enumerate(values):
            if value is None:
                runs.append([])
            else:
                runs[-1].append((index, value))
        for run in filter(None, runs):
            points = " ".join(f"{self.x(i):.1f},{self.y(v):.1f}" for i, v in run)
            if len(run) > 1:
                self.add(
                    '<polyline points="{}" fill="none" stroke="{}" stroke-width="1.6"><title>{}</title></polyline>',
                    points, color, name,
                )  # fmt: skip
            if dots or len(run) == 1:
                for i, v in run:
                    self.add(
                        '<circle cx="{}" cy="{}" r="3.5" fill="{}"><title>{}: {}</title></circle>',
                        f"{self.x(i):.1f}", f"{self.y(v):.1f}", color, name, (value_format or percent)(v),
                    )  # fmt: skip

    def svg(self, title: str) -> SafeString:
        body = mark_safe("".join(self.parts))  # every part was built with format_html
        return format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="gov-chart" role="img" width="{}" height="{}" '
            'viewBox="0 0 {} {}" font-family="sans-serif" style="background:#fff;border:1px solid #ddd">'
            "<title>{}</title>{}</svg>",
            self.width, self.height, self.width, self.height, title, body,
        )  # fmt: skip


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def series_chart(
    *,
    title: str,
    values: Sequence[float | None],
    x_labels: Sequence[str] = (),
    spans: Sequence[Span] = (),
    rules: Sequence[Rule] = (),
    marker: tuple[int, str] | None = None,
    y_range: tuple[float, float] | None = None,
    y_format: Callable[[float], str] = percent,
    width: int = 900,
    height: int = 260,
) -> SafeString:
    """One series with shaded spans, labelled horizontal rules and an optional marked point."""
    known = [v for v in values if v is not None] + [r.y for r in rules]
    y_min, y_max = y_range or (min(known, default=0.0), max(known, default=1.0))
    frame = Frame(width, height, max(len(values), 2), y_min, y_max)
    for span in spans:
        left, right = frame.x(span.start), frame.x(max(span.end - 1, span.start))
        frame.add(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" fill-opacity="0.10"/>'
            '<text x="{}" y="{}" font-size="11" fill="{}">{}</text>',
            f"{left:.1f}", MARGIN_TOP, f"{max(right - left, 1):.1f}", height - MARGIN_TOP - MARGIN_BOTTOM,
            span.color, f"{left + 4:.1f}", MARGIN_TOP - 8, span.color, span.label,
        )  # fmt: skip
        if span.level is not None:
            frame.add(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="3" stroke-opacity="0.7"/>',
                f"{left:.1f}", f"{frame.y(span.level):.1f}", f"{right:.1f}", f"{frame.y(span.level):.1f}", span.color,
            )  # fmt: skip
    frame.axes(y_format, list(x_labels))
    frame.polyline(values, "#333", title, value_format=y_format)
    labels: list[float] = []  # the heights of the labels in the right margin, kept apart
    for rule in rules:
        labels.append(_clear_of(labels, frame.y(rule.y)))
        frame.add(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1.4" {}/>'
            '<text x="{}" y="{}" font-size="11" fill="{}">{}</text>',
            MARGIN_LEFT, f"{frame.y(rule.y):.1f}", f"{frame.x(frame.count - 1):.1f}", f"{frame.y(rule.y):.1f}",
            rule.color, mark_safe('stroke-dasharray="6 4"') if rule.dashed else "",
            f"{frame.x(frame.count - 1) + 6:.1f}", f"{labels[-1] + 4:.1f}", rule.color, rule.label,
        )  # fmt: skip
    if marker is not None and 0 <= marker[0] < len(values) and values[marker[0]] is not None:
        index, label = marker
        # The label goes in the right margin, clear of the rules' labels and never over a line,
        # on two lines ("triggered" / "2026-11-30 01:25 UTC") to fit the margin.
        label_y = _clear_of(labels, frame.y(values[index]), gap=28.0)
        first, _, rest = label.partition(" ")
        x = f"{frame.x(frame.count - 1) + 10:.1f}"
        frame.add(
            '<circle cx="{}" cy="{}" r="6" fill="#d62728" stroke="#fff" stroke-width="2"><title>{}</title></circle>'
            '<text x="{}" y="{}" font-size="11" fill="#d62728"><tspan font-weight="bold">{}</tspan>'
            '<tspan x="{}" dy="13">{}</tspan></text>',
            f"{frame.x(index):.1f}", f"{frame.y(values[index]):.1f}", label,
            x, f"{label_y + 4:.1f}", first, x, rest,
        )  # fmt: skip
    return frame.svg(title)


def _clear_of(taken: Sequence[float], y: float, gap: float = 14.0) -> float:
    """`y`, moved down past any label already at one of the `taken` heights (labels are 11 px)."""
    for other in sorted(taken):
        if abs(other - y) < gap:
            y = other + gap
    return y


def multi_series_chart(
    *,
    title: str,
    series: Sequence[Series],
    x_labels: Sequence[str],
    y_range: tuple[float, float] = (0.0, 1.0),
    y_format: Callable[[float], str] = percent,
    width: int = 900,
    height: int = 260,
) -> SafeString:
    """Several series over the same x labels, with a legend on the right."""
    frame = Frame(width, height, max(len(x_labels), 2), *y_range)
    frame.axes(y_format, x_labels)
    for number, item in enumerate(series):
        color = item.color or PALETTE[number % len(PALETTE)]
        frame.polyline(item.values, color, item.name, dots=True, value_format=y_format)
        frame.add(
            '<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="11">{}</text>',
            width - MARGIN_RIGHT + 16, MARGIN_TOP + 16 * number, color,
            width - MARGIN_RIGHT + 30, MARGIN_TOP + 16 * number + 9, item.name,
        )  # fmt: skip
    return frame.svg(title)


def usage_bar(fraction: float | None, caption: str, width: int = 160) -> SafeString:
    """A small horizontal bar for a share of a cap (green, amber from 75%, red from 100%)."""
    if fraction is None:
        return format_html('<span title="{}">—</span>', caption)
    shown = min(max(fraction, 0.0), 1.0)
    color = "#b00020" if fraction >= 1 else "#d08a00" if fraction >= 0.75 else "#1b7f3b"
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="14" role="img"><title>{}</title>'
        '<rect width="{}" height="14" fill="#eee"/><rect width="{}" height="14" fill="{}"/>'
        '<text x="4" y="11" font-size="10" fill="#000">{}</text></svg>',
        width, caption, width, f"{width * shown:.1f}", color, escape(f"{fraction * 100:.0f}%"),
    )  # fmt: skip
