"""Success rate per business day per domain: the selector and the chart on the scorecard page."""

import datetime as dt

import pytest
from django.urls import reverse

from heimdall import selectors

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 13)  # a Friday; GOVERNANCE_TIME_ZONE is UTC unless a test says otherwise
SCORECARD = reverse("admin:heimdall_scorecard")


def at(day_offset: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(DAY + dt.timedelta(days=day_offset), dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def known_data_set(add_trials):
    # WHOLESALE: today 3 of 4, yesterday 4 of 4, 13 days ago (the first day drawn) 0 of 2.
    add_trials("WHOLESALE", successes=3, failures=1, at=at(0))
    add_trials("WHOLESALE", successes=4, at=at(-1))
    add_trials("WHOLESALE", failures=2, at=at(-13))
    # BUYER_MATCH: today 2 of 3, five days ago 1 of 3.
    add_trials("BUYER_MATCH", successes=2, failures=1, at=at(0, hour=23))
    add_trials("BUYER_MATCH", successes=1, failures=2, at=at(-5, hour=0))
    # Outside the 14 days: 14 days ago and tomorrow; CAPITAL only there, so not drawn at all.
    add_trials("WHOLESALE", successes=5, at=at(-14))
    add_trials("WHOLESALE", failures=1, at=at(1))
    add_trials("CAPITAL", failures=1, at=at(-14, hour=23))


def test_daily_success_rates__known_data_set__rate_per_day_none_without_trials(known_data_set):
    dates, rates = selectors.daily_success_rates(days=14, until=DAY)
    assert dates == [DAY - dt.timedelta(days=back) for back in range(13, -1, -1)]
    assert list(rates) == ["BUYER_MATCH", "WHOLESALE"]
    assert rates["WHOLESALE"] == [0.0] + [None] * 11 + [1.0, 0.75]
    assert rates["BUYER_MATCH"] == [None] * 8 + [0.3333] + [None] * 4 + [0.6667]


def test_daily_success_rates__past_day__span_ends_that_day(known_data_set):
    dates, rates = selectors.daily_success_rates(days=3, until=DAY - dt.timedelta(days=1))
    assert (dates[0], dates[-1]) == (DAY - dt.timedelta(days=3), DAY - dt.timedelta(days=1))
    assert rates == {"WHOLESALE": [None, None, 1.0]}


def test_daily_success_rates__no_trials__days_but_no_domains():
    dates, rates = selectors.daily_success_rates(days=14, until=DAY)
    assert len(dates) == 14 and rates == {}


def test_daily_success_rates__days_below_one__refused():
    with pytest.raises(ValueError):
        selectors.daily_success_rates(days=0, until=DAY)


@pytest.mark.parametrize(
    ("time_zone", "until", "midnights"),
    [
        # Tokyo is UTC+9: its 13 March runs from 12 March 15:00 UTC to 13 March 15:00 UTC.
        ("Asia/Tokyo", dt.date(2026, 3, 13), ("2026-03-11T15:00Z", "2026-03-12T15:00Z", "2026-03-13T15:00Z")),
        # New York's 8 March 2026 has 23 hours (clocks go forward): 05:00 UTC to 04:00 UTC.
        ("America/New_York", dt.date(2026, 3, 8), ("2026-03-07T05:00Z", "2026-03-08T05:00Z", "2026-03-09T04:00Z")),
    ],
)
def test_daily_success_rates__non_utc_time_zone__days_split_at_local_midnight(
    settings, add_trials, time_zone, until, midnights
):
    """`midnights`: the UTC instants the day before `until`, `until` and the day after begin."""
    settings.GOVERNANCE_TIME_ZONE = time_zone
    yesterday, today, tomorrow = (dt.datetime.fromisoformat(midnight) for midnight in midnights)
    tick = dt.timedelta(microseconds=1)
    # Today's trials succeed, yesterday's fail; any before or after would show as a third day.
    for moment in (yesterday, today - tick):
        add_trials("WHOLESALE", failures=1, at=moment)
    for moment in (today, tomorrow - tick):
        add_trials("WHOLESALE", successes=1, at=moment)
    for moment in (yesterday - tick, tomorrow):
        add_trials("WHOLESALE", successes=1, failures=1, at=moment)
    dates, rates = selectors.daily_success_rates(days=2, until=until)
    assert dates == [until - dt.timedelta(days=1), until]
    assert rates == {"WHOLESALE": [0.0, 1.0]}


def test_daily_success_rates__many_domains_and_days__one_query(add_trials, django_assert_num_queries):
    for number in range(6):
        for back in range(0, 14, 2):
            add_trials(f"DOMAIN_{number}", successes=1, failures=number % 3, at=at(-back))
    with django_assert_num_queries(1):
        _, rates = selectors.daily_success_rates(days=14, until=DAY)
    assert len(rates) == 6 and rates["DOMAIN_1"][-1] == 0.5


def test_scorecard_page__chart_above_the_table_with_each_domain_in_the_legend(client, operator, known_data_set):
    client.force_login(operator)
    page = client.get(SCORECARD, {"date": DAY.isoformat()}).content.decode()
    figure = page.index('id="heimdall-daily-rates"')
    chart = page.index('<svg xmlns="http://www.w3.org/2000/svg" class="gov-chart"', figure)
    assert chart < page.index('id="heimdall-scorecard"')
    svg = page[chart : page.index("</svg>", chart)]
    assert ">BUYER_MATCH</text>" in svg and ">WHOLESALE</text>" in svg and "CAPITAL" not in svg
    assert "<polyline" in svg and "<circle" in svg  # lines between days with trials, a dot on each
    assert ">100%</text>" in svg and ">0%</text>" in svg  # the rate axis in %
    assert "Sat 28" in svg and "Fri 13" in svg  # 28 Feb to 13 Mar
    assert "Success rate per day, last 14 business days" in page


def test_scorecard_page__no_trials_in_the_14_days__message_instead_of_chart(client, operator, add_trials):
    add_trials("WHOLESALE", successes=1, at=at(-20))
    client.force_login(operator)
    page = client.get(SCORECARD, {"date": DAY.isoformat()}).content.decode()
    assert 'class="gov-chart"' not in page
    assert "No sandbox trials from Sat 28 Feb 2026 to Fri 13 Mar 2026." in page
