import datetime as dt

import pytest

from heimdall import reasons, selectors

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 13)  # a Friday; GOVERNANCE_TIME_ZONE is UTC unless a test says otherwise
NOW = dt.datetime(2026, 3, 13, 15, 0, tzinfo=dt.UTC)


def at(day_offset: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(DAY + dt.timedelta(days=day_offset), dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def known_data_set(make_policy, add_trials):
    make_policy("WHOLESALE", trial_window_days=14, min_sandbox_trials=4, min_success_rate=0.75)
    make_policy("BUYER_MATCH", enabled=False)
    make_policy("DORMANT")
    # WHOLESALE: today 3 of 4, yesterday 4 of 4, ten days ago 0 of 2, twenty days ago (outside) 5 of 5.
    add_trials("WHOLESALE", successes=3, failures=1, at=at(0))
    add_trials("WHOLESALE", successes=4, at=at(-1))
    add_trials("WHOLESALE", failures=2, at=at(-10))
    add_trials("WHOLESALE", successes=5, at=at(-20))
    # BUYER_MATCH: today 2 of 3, yesterday 1 of 3; CAPITAL (no policy): yesterday 0 of 1.
    add_trials("BUYER_MATCH", successes=2, failures=1, at=at(0))
    add_trials("BUYER_MATCH", successes=1, failures=2, at=at(-1))
    add_trials("CAPITAL", failures=1, at=at(-1))
    # Tomorrow's trial (later than NOW) counts nowhere.
    add_trials("WHOLESALE", failures=1, at=at(1))


def test_scorecard__known_data_set__numbers_per_domain(live, known_data_set):
    rows = {row.domain: row for row in selectors.scorecard(day=DAY, now=NOW)}
    assert list(rows) == ["BUYER_MATCH", "CAPITAL", "DORMANT", "WHOLESALE"]

    wholesale = rows["WHOLESALE"]
    assert (wholesale.trials_today, wholesale.successes_today, wholesale.success_rate_today) == (4, 3, 0.75)
    assert (wholesale.trials_yesterday, wholesale.success_rate_yesterday) == (4, 1.0)
    assert (wholesale.success_rate_change, wholesale.dropped) == (-0.25, True)
    assert (wholesale.trials_in_window, wholesale.success_rate_in_window) == (10, 0.7)
    assert (wholesale.prod_eligible, wholesale.reason) == (False, reasons.SUCCESS_RATE_BELOW_MIN)

    buyer = rows["BUYER_MATCH"]
    assert (buyer.success_rate_today, buyer.success_rate_yesterday) == (0.6667, 0.3333)
    assert (buyer.success_rate_change, buyer.dropped) == (0.3333, False)
    assert (buyer.trials_in_window, buyer.success_rate_in_window) == (6, 0.5)
    assert (buyer.prod_eligible, buyer.reason) == (False, reasons.POLICY_DISABLED)

    capital = rows["CAPITAL"]
    assert (capital.trials_today, capital.success_rate_today, capital.success_rate_yesterday) == (
        0,
        None,
        0.0,
    )
    assert (capital.success_rate_change, capital.trials_in_window, capital.success_rate_in_window) == (
        None, None, None,
    )  # fmt: skip
    assert (capital.prod_eligible, capital.reason) == (False, reasons.NO_POLICY)

    dormant = rows["DORMANT"]
    assert (dormant.trials_today, dormant.success_rate_today, dormant.success_rate_change) == (0, None, None)
    assert (dormant.trials_in_window, dormant.success_rate_in_window) == (0, None)
    assert dormant.reason == reasons.INSUFFICIENT_TRIALS


def test_scorecard__eligible_domain__eligible_at_its_minimum_confidence(live, make_policy, add_trials):
    make_policy("WHOLESALE", min_confidence_prod=0.95)
    add_trials("WHOLESALE", successes=4, at=at(0))
    (row,) = selectors.scorecard(day=DAY, now=NOW)
    assert (row.prod_eligible, row.reason) == (True, None)


def test_scorecard__production_off__every_domain_refused_with_go_live_reason(known_data_set):
    assert {row.reason for row in selectors.scorecard(day=DAY, now=NOW)} == {"go_live_disabled"}


def test_scorecard__past_day__window_ends_that_day_but_eligibility_is_now(live, known_data_set):
    rows = {row.domain: row for row in selectors.scorecard(day=DAY - dt.timedelta(days=1), now=NOW)}
    wholesale = rows["WHOLESALE"]
    assert (wholesale.trials_today, wholesale.success_rate_today, wholesale.trials_yesterday) == (4, 1.0, 0)
    assert wholesale.success_rate_change is None
    # The window ending yesterday evening holds the trials of -1, -10 (and not -20: 14 days).
    assert (wholesale.trials_in_window, wholesale.success_rate_in_window) == (6, 0.6667)
    assert wholesale.reason == reasons.SUCCESS_RATE_BELOW_MIN  # now: 7 of 10


@pytest.mark.parametrize(
    ("time_zone", "day", "moments"),
    [
        # Tokyo is UTC+9: its 13 March runs from 12 March 15:00 UTC to 13 March 15:00 UTC.
        (
            "Asia/Tokyo",
            dt.date(2026, 3, 13),
            {
                "yesterday": ["2026-03-12T14:59:59.999999+00:00", "2026-03-11T15:00:00+00:00"],
                "today": ["2026-03-12T15:00:00+00:00", "2026-03-13T14:59:59.999999+00:00"],
                "neither": ["2026-03-11T14:59:59+00:00", "2026-03-13T15:00:00+00:00"],
            },
        ),
        # New York's 8 March 2026 has 23 hours (clocks go forward): 05:00 UTC to 04:00 UTC.
        (
            "America/New_York",
            dt.date(2026, 3, 8),
            {
                "yesterday": ["2026-03-08T04:59:59+00:00", "2026-03-07T05:00:00+00:00"],
                "today": ["2026-03-08T05:00:00+00:00", "2026-03-09T03:59:59+00:00"],
                "neither": ["2026-03-07T04:59:59+00:00", "2026-03-09T04:00:00+00:00"],
            },
        ),
    ],
)
def test_scorecard__non_utc_time_zone__days_split_at_local_midnight(settings, add_trials, time_zone, day, moments):
    settings.GOVERNANCE_TIME_ZONE = time_zone
    for bucket, times in moments.items():
        for moment in times:
            add_trials("WHOLESALE", successes=int(bucket == "today"), failures=int(bucket != "today"),
                       at=dt.datetime.fromisoformat(moment))  # fmt: skip
    (row,) = selectors.scorecard(day=day, now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    assert (row.trials_today, row.successes_today, row.trials_yesterday) == (2, 2, 2)
    assert (row.success_rate_today, row.success_rate_yesterday, row.success_rate_change) == (1.0, 0.0, 1.0)


def test_scorecard__no_policies_no_trials__empty():
    assert selectors.scorecard(day=DAY, now=NOW) == []


def test_scorecard__many_domains__same_number_of_queries(live, known_data_set, make_policy, django_assert_num_queries):
    for domain in ("EXTRA_1", "EXTRA_2", "EXTRA_3"):
        make_policy(domain)
    # The two days, the policies, every window, the Go-Live state: whatever the number of domains.
    with django_assert_num_queries(4):
        assert len(selectors.scorecard(day=DAY, now=NOW)) == 7
