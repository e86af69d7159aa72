"""Pre-action checks and firm-wide caps: each off by default, each a reason in the ledger, in the
documented order."""

import pytest

from governance_site.audit.models import AuditEvent
from governance_site.errors import InvalidInput
from risk import reasons, selectors, services
from risk.models import Status

pytestmark = pytest.mark.django_db


def reserve(amount="100", actor="engine-a", ref="", domain="WHOLESALE", **extra):
    return services.reserve(domain=domain, amount=amount, actor=actor, ref=ref or None, **extra)


def denials() -> dict:
    return {row["domain"]: row["denial_count_by_reason"] for row in selectors.ledger()["domains"]}


def test_defaults__every_check_off(live, make_policy, clock):
    policy = make_policy(max_daily_actions=1000, max_open_exposure="1000000")
    assert (policy.max_actions_per_second, policy.max_actions_per_minute, policy.max_engine_actions_per_minute,
            policy.duplicate_window_seconds, policy.amount_collar_factor) == (None,) * 5  # fmt: skip
    # The same engine, amount and ref 60 times in the same instant, then a 1000x amount: all approved.
    entries = [reserve("10", ref="offer-1") for _ in range(60)] + [reserve("10000")]
    assert {entry.status for entry in entries} == {Status.RESERVED}


def test_rate_limit__per_second__denied_then_next_second_approved(live, make_policy, clock):
    make_policy(max_actions_per_second=2)
    assert [reserve().reason for _ in range(3)] == ["", "", reasons.RATE_LIMITED]
    clock.advance(seconds=1)
    assert reserve().ok
    assert denials() == {"WHOLESALE": {"rate_limited": 1}}


def test_rate_limit__per_minute__sliding_window(live, make_policy, clock):
    make_policy(max_actions_per_minute=3)
    for _ in range(3):
        assert reserve().ok
        clock.advance(seconds=10)
    assert reserve().reason == reasons.RATE_LIMITED
    clock.advance(seconds=31)  # the first is now more than a minute old
    assert reserve().ok


def test_rate_limit__denials_do_not_count(live, make_policy, clock):
    make_policy(max_actions_per_minute=1, max_action_amount="50")
    assert reserve("60").reason == reasons.MAX_ACTION_AMOUNT
    assert reserve("10").ok


def test_rate_limit__per_engine__other_engine_still_approved(live, make_policy, clock):
    make_policy(max_engine_actions_per_minute=2)
    assert [reserve(actor="engine-a").reason for _ in range(3)] == ["", "", reasons.RATE_LIMITED]
    assert reserve(actor="engine-b").ok


def test_duplicate__same_engine_amount_ref_in_window__suspect(live, make_policy, clock):
    make_policy(duplicate_window_seconds=5)
    assert reserve("100", ref="offer-1").ok
    assert reserve("100", ref="offer-1").reason == reasons.DUPLICATE_SUSPECT
    # Another amount, ref or engine is not a duplicate.
    assert reserve("101", ref="offer-1").ok
    assert reserve("100", ref="offer-2").ok
    assert reserve("100", ref="offer-1", actor="engine-b").ok
    clock.advance(seconds=6)
    assert reserve("100", ref="offer-1").ok
    assert denials() == {"WHOLESALE": {"duplicate_suspect": 1}}


def test_duplicate__idempotent_replay__original_not_a_duplicate(live, make_policy):
    make_policy(duplicate_window_seconds=60)
    first = reserve("100", ref="offer-1", idempotency_key="k1")
    assert reserve("100", ref="offer-1", idempotency_key="k1").pk == first.pk
    assert reserve("100", ref="offer-1", idempotency_key="k2").reason == reasons.DUPLICATE_SUSPECT


def test_amount_collar__outside_median_band__outlier(live, make_policy, clock):
    make_policy(amount_collar_factor="4", amount_collar_sample=5, max_open_exposure="1000000")
    for amount in ("90", "100", "110", "100", "95"):  # median 100 once five are approved
        assert reserve(amount).ok
    assert reserve("401").reason == reasons.AMOUNT_OUTLIER
    assert reserve("24").reason == reasons.AMOUNT_OUTLIER
    assert reserve("400").ok and reserve("25").ok
    assert denials() == {"WHOLESALE": {"amount_outlier": 2}}


def test_amount_collar__until_sample_full__no_collar(live, make_policy):
    make_policy(amount_collar_factor="2", amount_collar_sample=3)
    assert reserve("100").ok and reserve("100").ok
    assert reserve("1000").ok  # only two approved before it: no median yet


def test_firm_exposure__all_domains_together__denied(live, make_policy):
    make_policy("WHOLESALE")
    make_policy("CAPITAL")
    services.upsert_firm_policy(changes={"max_open_exposure": "250"}, actor="tests/setup", reason="firm cap")
    assert reserve("100").ok and reserve("100", domain="CAPITAL").ok
    assert reserve("100", domain="CAPITAL").reason == reasons.FIRM_EXPOSURE
    assert reserve("50").ok
    assert denials()["CAPITAL"] == {"firm_exposure": 1}


def test_firm_daily_loss__net_loss_of_all_domains__denied(live, make_policy):
    make_policy("WHOLESALE")
    make_policy("CAPITAL")
    services.upsert_firm_policy(changes={"max_daily_loss": "100"}, actor="tests/setup")
    w, c = reserve("10"), reserve("10", domain="CAPITAL")
    services.settle(reservation_id=w.pk, realized_pnl="-70", actor="engine-a")
    assert reserve("10", domain="CAPITAL").ok  # net loss 70 < 100
    services.settle(reservation_id=c.pk, realized_pnl="-30", actor="engine-a")
    assert reserve("10", domain="CAPITAL").reason == reasons.FIRM_DAILY_LOSS
    assert denials()["CAPITAL"] == {"firm_daily_loss": 1}


def test_firm_policy__upsert_audited_and_api(api, operator):
    response = api(operator).post(
        "/api/governance/risk/firm-policy/upsert", {"max_open_exposure": "1000", "reason": "board"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert (
        api(operator).get("/api/governance/risk/firm-policy").json()["results"][0]["max_open_exposure"] == "1000.0000"
    )
    again = api(operator).post("/api/governance/risk/firm-policy/upsert", {"max_daily_loss": "5"}, format="json")
    assert (again.status_code, again.json()["max_open_exposure"], again.json()["max_daily_loss"]) == (
        200, "1000.0000", "5.0000",
    )  # fmt: skip
    assert [e.action for e in AuditEvent.objects.order_by("id")] == ["policy.create", "policy.update"]
    assert AuditEvent.objects.order_by("id").first().reason == "board"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_actions_per_minute": 0}, "max_actions_per_minute"),
        ({"duplicate_window_seconds": 100000}, "duplicate_window_seconds"),
        ({"amount_collar_factor": "0.5"}, "amount_collar_factor"),
        ({"amount_collar_sample": 0}, "amount_collar_sample"),
    ],
)
def test_policy__bad_check_value__invalid_input_naming_field(db, changes, field):
    with pytest.raises(InvalidInput) as caught:
        services.upsert_policy(domain="WHOLESALE", changes=changes, actor="tests/setup")
    assert caught.value.field == field


# Each step: (the rule broken, how to lift it, the reason it gives), in the documented order.
ORDER = [
    ({"max_actions_per_minute": 1}, {"max_actions_per_minute": None}, reasons.RATE_LIMITED),
    ({"duplicate_window_seconds": 60}, {"duplicate_window_seconds": None}, reasons.DUPLICATE_SUSPECT),
    ({"max_action_amount": "99"}, {"max_action_amount": None}, reasons.MAX_ACTION_AMOUNT),
    (
        {"amount_collar_factor": "1.5", "amount_collar_sample": 1},
        {"amount_collar_factor": None},
        reasons.AMOUNT_OUTLIER,
    ),
    ({"max_daily_actions": 2}, {"max_daily_actions": 1000}, reasons.MAX_DAILY_ACTIONS),
    ({"max_open_exposure": "150"}, {"max_open_exposure": "100000"}, reasons.MAX_OPEN_EXPOSURE),
    ({"max_daily_loss": "1000"}, {"max_daily_loss": "100000"}, reasons.MAX_DAILY_LOSS),
    ({"firm": {"max_open_exposure": "0"}}, {"firm": {"max_open_exposure": None}}, reasons.FIRM_EXPOSURE),
    ({"firm": {"max_daily_loss": "0"}}, {"firm": {"max_daily_loss": None}}, reasons.FIRM_DAILY_LOSS),
]


def _apply(changes: dict) -> None:
    changes = dict(changes)
    if "firm" in changes:
        services.upsert_firm_policy(changes=changes.pop("firm"), actor="tests/setup")
    if changes:
        services.upsert_policy(domain="WHOLESALE", changes=changes, actor="tests/setup")


def test_reason_order__every_rule_broken__each_lifted_in_turn_shows_the_next(live, make_policy, clock):
    """A reserve of 160 (ref offer-1) breaks every pre-action check and cap at once; lifting them one
    by one in the documented order shows each next reason, then the reserve is approved."""
    make_policy(max_daily_actions=1000, max_open_exposure="100000", max_daily_loss="100000")
    first = reserve("160", ref="offer-1")  # the duplicate to be, settled at a 2000 loss
    services.settle(reservation_id=first.pk, realized_pnl="-2000", actor="engine-a")
    assert reserve("10", ref="other").ok  # the collar's median (sample 1) and 10 of open exposure
    for broken, _, _ in ORDER:
        _apply(broken)
    seen = []
    for _, lift, _ in ORDER:
        seen.append(reserve("160", ref="offer-1").reason)
        _apply(lift)
    assert seen == [reason for _, _, reason in ORDER]
    assert reserve("160", ref="offer-1").ok
    # The same order as the documented one (risk.reasons.DENIAL_REASONS, the API and the README).
    assert reasons.DENIAL_REASONS[reasons.DENIAL_REASONS.index(reasons.POLICY_DISABLED) + 1 :] == tuple(seen)
