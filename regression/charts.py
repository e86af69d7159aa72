"""The tripwire chart drawn on a state's admin page, and the numbers shown next to it."""

from functools import partial
from itertools import accumulate

from django.utils.safestring import SafeString

from governance_site import charts
from governance_site.formatting import when

from . import selectors
from .models import PolicyKind, RegressionState
from .services import Backtest

CHART_WIDTH = 680  # px: the chart and its summary side by side next to the admin's navigation
BACKTEST_POINTS = 600  # the backtest chart's points, whatever the length of the history


def number(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    return f"{value:.1%}" if kind == PolicyKind.SUCCESS_RATE else f"{value:.4g}"


def _rolling_mean(values: list[float], size: int) -> list[float | None]:
    """The mean of each value and the `size - 1` before it; None until `size` values are in."""
    sums = list(accumulate(values, initial=0.0))
    return [None if end < size else (sums[end] - sums[end - size]) / size for end in range(1, len(sums))]


def percent_or_dash(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction:.1%}"


def tripwire_chart(state: RegressionState) -> tuple[str, SafeString]:
    """(title, SVG): the metric over the events an evaluation reads now, the baseline and window
    spans with their rates, the threshold line, and the trigger point on the newest event when
    the state is triggered."""
    policy = state.policy
    history = selectors.tripwire_history(policy)
    shown = partial(number, kind=policy.kind)
    if policy.kind == PolicyKind.SUCCESS_RATE:  # 0/1 per event: a rolling rate shows the trend
        size = min(max(5, policy.window_events // 5), len(history.values)) or 1
        values, y_range, y_format = _rolling_mean(history.values, size), (0.0, 1.0), charts.percent
        title = f"{policy}: success rate, rolling over {size} events"
    else:
        values, y_range, y_format = history.values, None, shown
        title = f"{policy}: value of each event"
    spans = [
        charts.Span(part.start, part.stop, f"{name} {shown(rate)}", color, level=rate)
        for name, part, rate, color in [
            ("baseline", history.baseline, history.baseline_rate, "#1f77b4"),
            ("window", history.window, history.current_rate, "#d62728"),
        ]
        if part
    ]
    threshold = history.threshold
    rules = [] if threshold is None else [charts.Rule(threshold, f"threshold {shown(threshold)}")]
    marker = (len(values) - 1, f"triggered {when(state.triggered_at)}") if state.triggered and values else None
    return title, charts.series_chart(
        title=title,
        values=values,
        x_labels=[str(index - len(values) + 1) for index in range(len(values))],
        spans=spans,
        rules=rules,
        marker=marker,
        y_range=y_range,
        y_format=y_format,
        width=CHART_WIDTH,
    )


def backtest_chart(result: Backtest) -> SafeString:
    """The KPI over the replayed history (a rolling mean, at most BACKTEST_POINTS points), each trip
    shaded from its estimated start to its reset, the first one marked."""
    policy, values = result.policy, result.series.values
    size = max(policy.window_events, len(values) // BACKTEST_POINTS, 1)
    rolling = _rolling_mean(list(values), size)
    step = max(len(rolling) // BACKTEST_POINTS, 1)
    points = rolling[::step]
    spans = [
        charts.Span(
            max(episode["change_index"], 0) // step,
            (episode["reset_index"] if episode["reset_index"] is not None else len(values) - 1) // step + 1,
            f"trip {number}", "#d62728",
        )
        for number, episode in enumerate(result.episodes, start=1)
    ]  # fmt: skip
    first = result.episodes[0] if result.episodes else None
    marker = (first["tripped_index"] // step, f"trips {when(first['tripped_at'])}") if first else None
    rate = policy.kind == PolicyKind.SUCCESS_RATE
    return charts.series_chart(
        title=f"{policy}: {'success rate' if rate else 'mean value'}, rolling over {size} events",
        values=points,
        spans=spans,
        marker=marker,
        y_range=(0.0, 1.0) if rate else None,
        y_format=charts.percent if rate else partial(number, kind=policy.kind),
        width=CHART_WIDTH,
    )


def verdict(state: RegressionState) -> dict:
    """The detector's numbers for the state page, as text."""
    policy, facts = state.policy, state.explanation or {}

    def amount(mean, count):
        return "—" if mean is None or not count else f"{number(mean, policy.kind)} of {count}"

    cusum = (
        "—" if state.statistic is None or state.threshold is None else f"{state.statistic:.2f} / {state.threshold:.2f}"
    )
    return {
        "detector": f"{policy.get_detector_display()}; {policy.get_mode_display()}",
        "cusum": cusum,
        "evidence": amount(facts.get("evidence_mean"), facts.get("evidence_n")),
        "reference": amount(facts.get("reference_mean"), facts.get("reference_n"))
        + (" (pinned)" if facts.get("reference_pinned") else ""),
        "p_value": "—" if facts.get("p_value") is None else f"{facts['p_value']:.2g}",
        "epoch": f"{state.epoch} since {when(state.epoch_started_at)}" if state.epoch_started_at else str(state.epoch),
        "late_events": state.late_events,
        "would_have": state.would_have_taken or "—",
        "expected_delay": "—"
        if facts.get("expected_delay") is None
        else f"about {facts['expected_delay']:,.0f} events",
    }
