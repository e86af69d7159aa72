import datetime as dt
from decimal import Decimal

import pytest

from golive import services as golive
from governance_site.errors import InvalidInput, Unprocessable
from risk import reasons, services
from risk.models import DailyTotals, Reservation, Status

pytestmark = pytest.mark.django_db


def reserve(amount="100", domain="WHOLESALE", **extra):
    return services.reserve(domain=domain, amount=amount, actor="engine/test", **extra)


def test_reserve__within_caps__reserved_with_expiry_and_totals(live, make_policy, clock):
    make_policy(reservation_ttl_seconds=60)
    entry = reserve("250.5", ref="offer-1")
    assert (entry.ok, entry.status, entry.reason) == (True, Status.RESERVED, "")
    assert entry.amount == Decimal("250.5")
    assert entry.expires_at == clock.now + dt.timedelta(seconds=60)
    assert (entry.actor, entry.ref, entry.domain) == ("engine/test", "offer-1", "WHOLESALE")
    totals = DailyTotals.objects.get(domain="WHOLESALE")
    assert (totals.approved_count, totals.open_exposure) == (1, Decimal("250.5"))


def test_reserve__lower_case_domain__upper_cased(live, make_policy):
    make_policy()
    assert reserve(domain="wholesale").domain == "WHOLESALE"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount": "0"},
        {"amount": "-5"},
        {"amount": "NaN"},
        {"amount": "Infinity"},
        {"amount": "abc"},
        {"amount": 1.5},
        {"amount": True},
        {"amount": "1.00001"},
        {"domain": "bad domain"},
        {"domain": "X" * 65},
        {"idempotency_key": "  "},
        {"idempotency_key": "k" * 256},
    ],
)
def test_reserve__bad_input__invalid_naming_field_and_no_entry(live, make_policy, kwargs):
    [field] = kwargs
    make_policy()
    with pytest.raises(InvalidInput) as raised:
        reserve(**kwargs)
    assert raised.value.field == field
    assert not Reservation.objects.exists()


def test_reserve__reasons__first_that_applies_in_order(operator, make_policy):
    """Every rule is broken at once; lifting each in turn reveals the next reason, in the issue's order."""
    make_policy(enabled=False, max_action_amount="10", max_daily_actions=0, max_open_exposure="0")
    golive.set_kill_switch(engaged=True, reason="test", actor=operator)

    def lift(**changes):
        return lambda: services.upsert_policy(domain="WHOLESALE", changes=changes, actor=operator)

    steps = [
        (reasons.KILL_SWITCH, lambda: golive.set_kill_switch(engaged=False, reason="t", actor=operator)),
        (reasons.GO_LIVE_DISABLED, lambda: golive.set_go_live(enabled=True, reason="t", actor=operator)),
        (reasons.NO_POLICY, None),  # asked for another domain, which has no policy
        (reasons.POLICY_DISABLED, lift(enabled=True)),
        (reasons.MAX_ACTION_AMOUNT, lift(max_action_amount="200")),  # still within the exposure cap lifted next
        (reasons.MAX_DAILY_ACTIONS, lift(max_daily_actions=5)),
        (reasons.MAX_OPEN_EXPOSURE, lift(max_open_exposure="500")),
        (reasons.MAX_DAILY_LOSS, None),
    ]
    services.upsert_policy(domain="WHOLESALE", changes={"max_daily_loss": "0"}, actor=operator)
    seen = []
    for expected, lift_it in steps:
        seen.append(reserve("100", domain="UNKNOWN" if expected == reasons.NO_POLICY else "WHOLESALE").reason)
        if lift_it:
            lift_it()
    assert seen == [expected for expected, _ in steps]
    lift(max_daily_loss="1")()
    assert reserve("100").status == Status.RESERVED
    assert Reservation.objects.filter(status=Status.DENIED).count() == len(steps)


def test_reserve__max_daily_actions__approved_count_plus_one_over_cap_denied(live, make_policy):
    make_policy(max_daily_actions=2)
    assert [reserve().reason for _ in range(3)] == ["", "", reasons.MAX_DAILY_ACTIONS]


def test_reserve__max_daily_actions__released_ones_still_count(live, make_policy):
    make_policy(max_daily_actions=1)
    services.release(reservation_id=reserve().pk, actor="engine/test")
    assert reserve().reason == reasons.MAX_DAILY_ACTIONS


def test_reserve__open_exposure__exactly_at_cap_approved_over_denied(live, make_policy):
    make_policy(max_open_exposure="300")
    assert reserve("200").ok and reserve("100").ok
    assert reserve("0.0001").reason == reasons.MAX_OPEN_EXPOSURE


def test_reserve__settled_exposure__room_again(live, make_policy):
    make_policy(max_open_exposure="300")
    first = reserve("300")
    assert reserve("1").reason == reasons.MAX_OPEN_EXPOSURE
    services.settle(reservation_id=first.pk, realized_pnl="5", actor="engine/test")
    assert reserve("300").ok


def test_reserve__max_action_amount__one_action_over_limit_denied(live, make_policy):
    make_policy(max_action_amount="50")
    assert reserve("50").ok
    assert reserve("50.0001").reason == reasons.MAX_ACTION_AMOUNT


def test_reserve__daily_loss_reached__denied_until_next_business_day(live, make_policy, clock):
    make_policy(max_daily_loss="100")
    entry = reserve("10")
    services.settle(reservation_id=entry.pk, realized_pnl="-60", actor="engine/test")
    services.settle(reservation_id=reserve("10").pk, realized_pnl="20", actor="engine/test")
    assert reserve("10").ok  # net loss 40
    services.settle(reservation_id=reserve("10").pk, realized_pnl="-60", actor="engine/test")
    assert reserve("10").reason == reasons.MAX_DAILY_LOSS  # net loss 100: reached
    clock.advance(days=1)
    assert reserve("10").ok


def test_reserve__state_unavailable__denied(make_policy, monkeypatch):
    make_policy()
    monkeypatch.setattr(golive, "may_execute", lambda **scope: golive.Decision(ok=False, reason="state_unavailable"))
    assert reserve().reason == "state_unavailable"


def test_reserve__zero_caps__nothing_allowed(live, make_policy):
    make_policy(max_daily_actions=0)
    assert reserve().reason == reasons.MAX_DAILY_ACTIONS


def test_idempotency__same_key__original_decision_and_one_entry(live, make_policy):
    make_policy()
    first = reserve("100", idempotency_key="k-1", ref="offer-9")
    again = reserve("100.0000", idempotency_key="k-1", ref="offer-9")
    assert again.pk == first.pk and again.expires_at == first.expires_at
    assert Reservation.objects.count() == 1
    assert DailyTotals.objects.get().approved_count == 1


def test_idempotency__same_key_other_domain__separate_entries(live, make_policy):
    make_policy("WHOLESALE")
    make_policy("CAPITAL")
    assert reserve(idempotency_key="k").pk != reserve(domain="CAPITAL", idempotency_key="k").pk


def test_idempotency__denial__replayed_even_after_the_cause_is_gone(operator, make_policy):
    make_policy()
    denied = reserve(idempotency_key="k-1")
    assert denied.reason == reasons.GO_LIVE_DISABLED
    golive.set_go_live(enabled=True, reason="t", actor=operator)
    assert reserve(idempotency_key="k-1").pk == denied.pk
    assert Reservation.objects.count() == 1


@pytest.mark.parametrize("changed", [{"amount": "101"}, {"ref": "other"}, {"ref": None}])
def test_idempotency__same_key_other_values__unprocessable_and_no_entry(live, make_policy, changed):
    make_policy()
    reserve(**{"amount": "100", "idempotency_key": "k-1", "ref": "offer-9", **changed})
    with pytest.raises(Unprocessable) as raised:
        reserve("100", idempotency_key="k-1", ref="offer-9")
    assert (raised.value.field, raised.value.reason) == ("idempotency_key", reasons.IDEMPOTENCY_MISMATCH)
    assert Reservation.objects.count() == 1


def test_reserve_or_raise__denied__raises_with_reason(make_policy):
    make_policy()
    with pytest.raises(services.RiskDenied) as raised:
        services.reserve_or_raise(domain="WHOLESALE", amount="5", actor="engine/test")
    assert raised.value.reason == reasons.GO_LIVE_DISABLED
    assert raised.value.reservation.status == Status.DENIED


def test_two_line_integration__reserve_then_settle(live, make_policy):
    make_policy()
    entry = services.reserve_or_raise(domain="WHOLESALE", amount="5", actor="engine/test", ref="o-1")
    settled = services.settle(reservation_id=entry.pk, realized_pnl="-1.25", actor="engine/test")
    assert (settled.status, settled.realized_pnl) == (Status.SETTLED, Decimal("-1.25"))
    assert DailyTotals.objects.get().realized_pnl == Decimal("-1.25")


# A replay answers the reservation's current truth, never a fresh permission -------------------


def test_replay__open_and_production_on__ok_and_reserved(live, make_policy):
    make_policy()
    first = reserve(idempotency_key="k-1")
    again = reserve(idempotency_key="k-1")
    assert (again.pk, again.ok, again.status, again.answer_reason) == (first.pk, True, Status.RESERVED, None)


@pytest.mark.parametrize(
    ("switch", "reason", "status", "ledger_reason"),
    [
        # A kill cancels the open reservation (its ledger entry carries the cancel's reason).
        ("kill_switch", reasons.KILL_SWITCH, Status.CANCELLED, reasons.KILL_SWITCH),
        # Go-live off stops new work but cancels nothing: the entry stays open.
        ("go_live_off", reasons.GO_LIVE_DISABLED, Status.RESERVED, ""),
    ],
)
def test_replay__production_stopped_since__not_ok_with_reason(
    live, operator, make_policy, switch, reason, status, ledger_reason
):
    make_policy()
    first = reserve(idempotency_key="k-1")
    if switch == "kill_switch":
        golive.set_kill_switch(engaged=True, reason="t", actor=operator)
    else:
        golive.set_go_live(enabled=False, reason="t", actor=operator)
    again = reserve(idempotency_key="k-1")
    assert (again.pk, again.ok, again.status, again.answer_reason) == (first.pk, False, status, reason)
    with pytest.raises(services.RiskDenied) as raised:
        services.reserve_or_raise(domain="WHOLESALE", amount="100", actor="engine/test", idempotency_key="k-1")
    assert raised.value.reason == reason
    assert Reservation.objects.get().reason == ledger_reason


def test_replay__past_expiry__expired_with_reason_and_exposure_freed(live, make_policy, clock):
    make_policy(reservation_ttl_seconds=60)
    reserve(idempotency_key="k-1")
    clock.advance(seconds=61)
    again = reserve(idempotency_key="k-1")
    assert (again.ok, again.status, again.answer_reason) == (False, Status.EXPIRED, reasons.RESERVATION_EXPIRED)
    assert DailyTotals.objects.get().open_exposure == 0


@pytest.mark.parametrize("close", ["settle", "release"])
def test_replay__closed__not_ok_reservation_closed(live, make_policy, close):
    make_policy()
    first = reserve(idempotency_key="k-1")
    if close == "settle":
        services.settle(reservation_id=first.pk, realized_pnl="1", actor="engine/test")
    else:
        services.release(reservation_id=first.pk, actor="engine/test")
    again = reserve(idempotency_key="k-1")
    assert (again.ok, again.status, again.answer_reason) == (
        False,
        Status.SETTLED if close == "settle" else Status.RELEASED,
        reasons.RESERVATION_CLOSED,
    )


@pytest.mark.parametrize("amount", ["1000000000.0001", "9999999999999999"])
def test_reserve__amount_beyond_bound__invalid_naming_amount_and_no_entry(live, make_policy, amount):
    make_policy(max_open_exposure="1e15")
    with pytest.raises(InvalidInput) as raised:
        reserve(amount)
    assert raised.value.field == "amount"
    assert not Reservation.objects.exists()


def test_reserve__policy_stored_before_the_bound__actions_still_capped_at_the_bound(live, make_policy):
    """A policy saved before MAX_DAILY_ACTIONS existed may allow more; the totals' arithmetic holds."""
    from risk.models import MAX_DAILY_ACTIONS, RiskPolicy

    make_policy()
    RiskPolicy.objects.filter(domain="WHOLESALE").update(max_daily_actions=2**31 - 1)
    reserve()  # today's totals
    DailyTotals.objects.filter(domain="WHOLESALE").update(approved_count=MAX_DAILY_ACTIONS)
    assert reserve().reason == reasons.MAX_DAILY_ACTIONS
