import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from golive import services as golive
from risk import reasons, selectors, services
from risk.models import DailyTotals, Reservation

pytestmark = pytest.mark.django_db

ENGINE = "engine/test"
NEW_YORK = ZoneInfo("America/New_York")


def reserve(domain, amount="10"):
    return services.reserve(domain=domain, amount=amount, actor=ENGINE)


@pytest.fixture
def known_day(operator, make_policy, clock):
    """One business day: WHOLESALE 2 settled (+30, -50), 1 released, 1 expired, 1 open, 2 denied
    (max_action_amount, max_daily_actions); CAPITAL 1 open, 1 denied go_live_disabled; UNKNOWN 1 denied."""
    clock.set(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC))
    make_policy("WHOLESALE", max_daily_actions=5, max_action_amount="100", reservation_ttl_seconds=60)
    make_policy("CAPITAL")
    ids = {"capital_off": reserve("CAPITAL").pk}  # go-live still off
    golive.set_go_live(enabled=True, reason="t", actor=operator)
    wholesale = [reserve("WHOLESALE", amount) for amount in ("10", "20", "30", "40")]
    services.settle(reservation_id=wholesale[0].pk, realized_pnl="30", actor=ENGINE)
    services.settle(reservation_id=wholesale[1].pk, realized_pnl="-50", actor=ENGINE)
    services.release(reservation_id=wholesale[2].pk, actor=ENGINE)
    ids["too_big"] = reserve("WHOLESALE", "101").pk
    clock.advance(seconds=61)
    services.expire_due()  # wholesale[3]
    assert reserve("WHOLESALE", "5").ok
    ids["too_many"] = reserve("WHOLESALE", "5").pk
    assert reserve("CAPITAL", "7.5").ok
    ids["unknown"] = reserve("UNKNOWN").pk
    return ids


def test_ledger__known_data_set__numbers(known_day):
    ledger = selectors.ledger(day=dt.date(2026, 6, 1))
    assert ledger == {
        "date": dt.date(2026, 6, 1),
        "domains": [
            {
                "domain": "CAPITAL",
                "approved_count": 1,
                "denied_count": 1,
                "denial_count_by_reason": {reasons.GO_LIVE_DISABLED: 1},
                "denied_ids": [known_day["capital_off"]],
                "open_exposure": Decimal("7.5"),
                "settled_count": 0,
                "released_count": 0,
                "expired_count": 0,
                "cancelled_count": 0,
                "realized_pnl": Decimal(0),
            },
            {
                "domain": "UNKNOWN",
                "approved_count": 0,
                "denied_count": 1,
                "denial_count_by_reason": {reasons.NO_POLICY: 1},
                "denied_ids": [known_day["unknown"]],
                "open_exposure": Decimal(0),
                "settled_count": 0,
                "released_count": 0,
                "expired_count": 0,
                "cancelled_count": 0,
                "realized_pnl": Decimal(0),
            },
            {
                "domain": "WHOLESALE",
                "approved_count": 5,
                "denied_count": 2,
                "denial_count_by_reason": {reasons.MAX_ACTION_AMOUNT: 1, reasons.MAX_DAILY_ACTIONS: 1},
                "denied_ids": [known_day["too_big"], known_day["too_many"]],
                "open_exposure": Decimal(5),
                "settled_count": 2,
                "released_count": 1,
                "expired_count": 1,
                "cancelled_count": 0,
                "realized_pnl": Decimal(-20),
            },
        ],
    }


def test_ledger__running_totals__agree_with_the_entries(known_day):
    for domain in selectors.ledger(day=dt.date(2026, 6, 1))["domains"]:
        if domain["approved_count"]:
            totals = DailyTotals.objects.get(domain=domain["domain"], business_date=dt.date(2026, 6, 1))
            assert (totals.approved_count, totals.open_exposure, totals.realized_pnl) == (
                domain["approved_count"],
                domain["open_exposure"],
                domain["realized_pnl"],
            )


def test_ledger__other_day__empty(known_day):
    assert selectors.ledger(day=dt.date(2026, 6, 2)) == {"date": dt.date(2026, 6, 2), "domains": []}


def test_business_day__new_york__boundary_at_local_midnight_not_utc(settings, live, make_policy, clock):
    settings.GOVERNANCE_TIME_ZONE = "America/New_York"
    make_policy(max_daily_actions=1)
    clock.set(dt.datetime(2026, 3, 9, 23, 30, tzinfo=NEW_YORK))  # 03:30 UTC on the 10th
    late = reserve("WHOLESALE")
    assert late.business_date == dt.date(2026, 3, 9)
    clock.set(dt.datetime(2026, 3, 9, 23, 59, 59, tzinfo=NEW_YORK))
    assert reserve("WHOLESALE").reason == reasons.MAX_DAILY_ACTIONS  # the same business day
    clock.set(dt.datetime(2026, 3, 10, 0, 0, tzinfo=NEW_YORK))
    early = reserve("WHOLESALE")
    assert (early.ok, early.business_date) == (True, dt.date(2026, 3, 10))
    assert selectors.ledger()["date"] == dt.date(2026, 3, 10)
    assert [d["approved_count"] for d in selectors.ledger()["domains"]] == [1]
    assert selectors.ledger(day=dt.date(2026, 3, 9))["domains"][0]["denied_count"] == 1


def test_business_day__utc__same_moments_one_day(settings, live, make_policy, clock):
    settings.GOVERNANCE_TIME_ZONE = "UTC"
    make_policy()
    for moment in (dt.datetime(2026, 3, 10, 3, 30, tzinfo=dt.UTC), dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)):
        clock.set(moment)
        reserve("WHOLESALE")
    assert set(Reservation.objects.values_list("business_date", flat=True)) == {dt.date(2026, 3, 10)}


def test_loss_settled_after_midnight__counts_on_the_day_it_was_realized(settings, live, make_policy, clock):
    settings.GOVERNANCE_TIME_ZONE = "America/New_York"
    make_policy(max_daily_loss="100", reservation_ttl_seconds=86400)
    clock.set(dt.datetime(2026, 11, 25, 23, 50, tzinfo=NEW_YORK))
    yesterdays = reserve("WHOLESALE", "500")
    clock.set(dt.datetime(2026, 11, 26, 0, 10, tzinfo=NEW_YORK))
    services.settle(reservation_id=yesterdays.pk, realized_pnl="-1000", actor=ENGINE)
    assert reserve("WHOLESALE").reason == reasons.MAX_DAILY_LOSS
    [today] = selectors.ledger()["domains"]
    assert (today["realized_pnl"], today["denied_count"], today["settled_count"]) == (Decimal(-1000), 1, 0)
    [reserved_day] = selectors.ledger(day=dt.date(2026, 11, 25))["domains"]
    assert (reserved_day["realized_pnl"], reserved_day["settled_count"]) == (Decimal(0), 1)


def test_ledger__domain_with_only_a_settlement_that_day__listed_with_its_pnl(settings, live, make_policy, clock):
    make_policy(reservation_ttl_seconds=86400)
    clock.set(dt.datetime(2026, 11, 25, 23, 0, tzinfo=dt.UTC))
    entry = reserve("WHOLESALE", "500")
    clock.set(dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC))
    services.settle(reservation_id=entry.pk, realized_pnl="42.5", actor=ENGINE)
    assert selectors.ledger()["domains"] == [
        {
            "domain": "WHOLESALE", "approved_count": 0, "denied_count": 0, "settled_count": 0, "released_count": 0,
            "expired_count": 0, "cancelled_count": 0, "open_exposure": Decimal(0), "realized_pnl": Decimal("42.5"),
            "denial_count_by_reason": {}, "denied_ids": [],
        }
    ]  # fmt: skip
