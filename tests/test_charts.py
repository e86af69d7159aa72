import pytest

from governance_site.charts import Rule, Series, Span, multi_series_chart, series_chart, usage_bar


def test_series_chart__spans_rules_marker_drawn_and_labels_escaped():
    svg = series_chart(
        title="<WHOLESALE>.contract_rate",
        values=[0.95] * 8 + [0.75] * 2,
        spans=[Span(0, 8, "baseline 95%", level=0.95), Span(8, 10, "window 75%", "#d62728", level=0.75)],
        rules=[Rule(0.76, "threshold 76%")],
        marker=(9, "triggered"),
        y_range=(0, 1),
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 2
    assert "baseline 95%" in svg and "window 75%" in svg and "threshold 76%" in svg
    assert 'stroke-dasharray="6 4"' in svg
    assert "<circle" in svg and "triggered" in svg
    assert "&lt;WHOLESALE&gt;" in svg and "<WHOLESALE>" not in svg


def test_series_chart__values_outside_range__clipped_to_the_frame():
    svg = series_chart(title="roi", values=[-5.0, 1.0, 2.0], y_range=(0, 1), y_format=str)
    points = svg.split('points="')[1].split('"')[0].split()
    ys = [float(p.split(",")[1]) for p in points]
    assert min(ys) >= 16 and max(ys) <= 260 - 28


def test_multi_series_chart__gaps_break_the_line_and_every_point_has_a_dot():
    svg = multi_series_chart(
        title="success",
        series=[Series("A", [0.9, None, 0.7, 0.8]), Series("B", [0.5, 0.6, 0.7, None])],
        x_labels=["1", "2", "3", "4"],
    )
    # A: a lone point, then a two-point line; B: one three-point line.
    assert [len(p.split('"')[0].split()) for p in svg.split('points="')[1:]] == [2, 3]
    assert svg.count("<circle") == 6
    assert ">A</text>" in svg and ">B</text>" in svg


def test_series_chart__lone_point__drawn_as_a_dot():
    svg = series_chart(title="one", values=[None, 0.5, None], y_range=(0, 1))
    assert "<polyline" not in svg and svg.count("<circle") == 1


@pytest.mark.parametrize(("fraction", "color"), [(0.5, "#1b7f3b"), (0.8, "#d08a00"), (1.3, "#b00020")])
def test_usage_bar__colour_by_share_of_cap(fraction, color):
    bar = usage_bar(fraction, "caption")
    assert color in bar and f"{fraction * 100:.0f}%" in bar


def test_usage_bar__no_cap__dash():
    assert "—" in usage_bar(None, "no cap")


def test_series_chart__labels_in_the_margin_kept_apart_and_off_the_plot():
    svg = series_chart(
        title="t", values=[0.9, 0.8, 0.77], rules=[Rule(0.76, "threshold 76%"), Rule(0.75, "floor 75%")],
        marker=(2, "triggered 2026-11-30 01:25 UTC"), y_range=(0, 1), width=600,
    )  # fmt: skip
    import re

    plot_right = 600 - 150  # MARGIN_RIGHT: the plot ends there, the labels start after it
    texts = re.findall(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*>(?:<tspan[^>]*>)?(threshold|floor|triggered)', svg)
    assert len(texts) == 3
    assert all(float(x) > plot_right for x, _, _ in texts)
    heights = sorted(float(y) for _, y, _ in texts)
    assert all(b - a >= 13 for a, b in zip(heights, heights[1:], strict=False))
