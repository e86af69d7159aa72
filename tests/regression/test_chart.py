"""The tripwire chart: the events an evaluation reads, its spans and threshold, on the state's admin page."""

import datetime as dt

import pytest
from django.utils import timezone

from regression import selectors, services
from regression.models import PolicyKind

from .conftest import outcomes

pytestmark = pytest.mark.django_db

STATES = "/admin/regression/regressionstate/"


def chart_of(page: str) -> str:
    start = page.index('class="gov-chart"')
    return page[start : page.index("</svg>", start)]


def spec_example(tripwire, feed, **changes):
    """The spec's worked example: 200 baseline events at 95%, then a window at 75%. 75% of 50 events
    is not a whole number of events, so the window is 60 (45 successes)."""
    policy = tripwire(window_events=60, **changes)
    clock = feed.clock
    feed.clock -= dt.timedelta(days=policy.lookback_days)
    feed(outcomes(0, 40))  # older than the lookback: never read
    feed.clock = clock
    feed(outcomes(190, 200) + outcomes(45, 60))
    return policy


def test_tripwire_history__spec_example__oldest_first_spans_rates_and_threshold(tripwire, feed):
    policy = spec_example(tripwire, feed)
    history = selectors.tripwire_history(policy)
    assert history.values == [1.0] * 190 + [0.0] * 10 + [1.0] * 45 + [0.0] * 15
    assert (history.baseline, history.window) == (range(0, 200), range(200, 260))
    assert history.occurred_at == sorted(history.occurred_at)
    assert (history.baseline_rate, history.current_rate) == (0.95, 0.75)
    assert history.threshold == pytest.approx(0.76)  # 95% − 20% × 95%


def test_tripwire_history__one_query_of_at_most_window_plus_baseline_rows(tripwire, feed, django_assert_num_queries):
    policy = spec_example(tripwire, feed)
    with django_assert_num_queries(1) as queries:
        selectors.tripwire_history(policy)
    assert "LIMIT 260" in queries.captured_queries[0]["sql"]


def test_tripwire_history__fewer_events_than_the_window__all_window_no_baseline_no_threshold(tripwire, feed):
    policy = tripwire()
    feed(outcomes(3, 4))
    feed([True], "WHOLESALE", "other_metric")
    history = selectors.tripwire_history(policy, now=timezone.now() + dt.timedelta(seconds=1))
    assert (history.baseline, history.window, history.current_rate) == (range(0), range(0, 4), 0.75)
    assert (history.baseline_rate, history.threshold) == (None, None)


def test_tripwire_history__mean_value__values_and_threshold_from_a_negative_mean(tripwire, feed):
    policy = tripwire(metric="roi_event", kind=PolicyKind.MEAN_VALUE, window_events=2, baseline_events=2,
                      max_drop_fraction=0.3)  # fmt: skip
    feed([-2.0, -2.0, -5.0, -7.0], "WHOLESALE", "roi_event")
    history = selectors.tripwire_history(policy)
    assert (history.values, history.baseline_rate, history.current_rate) == ([-2.0, -2.0, -5.0, -7.0], -2.0, -6.0)
    assert history.threshold == pytest.approx(-2.6)


def test_state_page__triggered__chart_with_spans_threshold_and_trigger_marker(client, operator, tripwire, feed):
    spec_example(tripwire, feed)
    state = services.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tests/setup")
    assert state.status == "triggered"
    client.force_login(operator)
    page = client.get(f"{STATES}{state.pk}/change/").content.decode()
    chart = chart_of(page)
    assert "success rate, rolling over 12 events" in chart  # max(5, 60 // 5)
    assert "baseline 95.0%" in chart and "window 75.0%" in chart and "threshold 76.0%" in chart
    fired = timezone.localtime(state.triggered_at).strftime("%Y-%m-%d %H:%M")
    assert f"triggered {fired}" in chart and 'r="6"' in chart
    summary = page[page.index('id="tripwire-summary"') :]
    for shown in ("Triggered", "#b00020", "95.0%", "75.0%", "21.1%", "drop &gt; 20.0%<br>(below 76.0%)", "THROTTLE"):
        assert shown in summary


def test_state_page__mean_value_not_triggered__numeric_axis_and_no_marker(client, viewer, tripwire, feed):
    tripwire(domain="CAPITAL", metric="roi_event", kind=PolicyKind.MEAN_VALUE, window_events=2, baseline_events=2)
    feed([0.04, 0.05, 0.045, 0.04], "CAPITAL", "roi_event")
    state = services.evaluate(domain="CAPITAL", metric="roi_event", actor="tests/setup")
    client.force_login(viewer)
    page = client.get(f"{STATES}{state.pk}/change/").content.decode()
    chart = chart_of(page)
    assert "value of each event" in chart and "baseline 0.045" in chart and "window 0.0425" in chart
    assert "threshold 0.0315" in chart  # 0.045 − 30%, the seeded policy's maximum drop
    assert "triggered" not in chart and "%" not in chart


def test_state_page__no_events__empty_chart_and_dashes(client, operator):
    client.force_login(operator)
    state = selectors.states().get(policy__domain="WHOLESALE", policy__metric="contract_rate")
    page = client.get(f"{STATES}{state.pk}/change/").content.decode()
    assert "threshold" not in chart_of(page)
    assert "drop &gt; 20.0%<br>(below —)" in page
