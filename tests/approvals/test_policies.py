"""Loosening a policy, declared once per field in each lever's contract: gated, requested, applied."""

from decimal import Decimal

import pytest

from approvals import reasons, services
from approvals.kinds import CONTRACTS as CONTRACTS_BY_NAME
from governance_site.audit.models import AuditEvent
from governance_site.changes import APPROVAL_REQUIRED, Becomes, Loosens, loosened_fields
from governance_site.errors import Conflict, InvalidInput
from heimdall import services as heimdall
from regression import cascade as regression_cascade
from regression import services as regression
from risk import services as risk
from risk.models import RiskPolicy

from .conftest import SETUP

pytestmark = pytest.mark.django_db
CONTRACTS = (risk.POLICY, heimdall.POLICY, regression.POLICY, risk.FIRM_POLICY, regression_cascade.CASCADE)


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda contract: contract.title)
def test_contract__every_loosening_declaration_names_a_policy_field(contract):
    assert contract.loosening and set(contract.loosening) <= set(contract.fields)


@pytest.mark.parametrize(
    ("direction", "before", "after", "loosened"),
    [
        (Loosens.RAISE, Decimal("10"), Decimal("11"), True),
        (Loosens.RAISE, Decimal("10"), Decimal("9"), False),
        (Loosens.RAISE_OR_REMOVE, Decimal("10"), None, True),
        (Loosens.RAISE_OR_REMOVE, None, Decimal("10"), False),  # no cap → a cap: tighter
        (Loosens.LOWER, 0.9, 0.8, True),
        (Loosens.LOWER, 0.8, 0.9, False),
        (Loosens.TURN_ON, False, True, True),
        (Loosens.TURN_ON, True, False, False),
        (Loosens.TURN_OFF, True, False, True),
        (Loosens.TURN_OFF, False, False, False),
        (Loosens.LOWER_OR_REMOVE, 10, 5, True),  # a shorter duplicate window
        (Loosens.LOWER_OR_REMOVE, 10, None, True),  # no duplicate check at all
        (Loosens.LOWER_OR_REMOVE, None, 10, False),  # a check where there was none: tighter
        (Loosens.LOWER_OR_REMOVE, 5, 10, False),
        (Becomes("dry_run"), "enforce", "dry_run", True),  # a tripwire whose trips no longer act
        (Becomes("dry_run"), "dry_run", "enforce", False),
        (Becomes("dry_run"), "dry_run", "dry_run", False),
    ],
)
def test_loosens__each_direction(direction, before, after, loosened):
    assert loosened_fields({"f": direction}, {"f": before}, {"f": after}) == (["f"] if loosened else [])


def direct(call, **kwargs):
    with pytest.raises(Conflict) as refusal:
        call(**kwargs)
    assert refusal.value.reason == APPROVAL_REQUIRED
    return refusal.value.detail


def test_approvals_on__loosening_policy_changes_refused_tightening_never_waits(wholesale_risk, approvals_on, operator,
                                                                             tripwire):  # fmt: skip
    assert risk.upsert_policy(domain="WHOLESALE", changes={"max_daily_loss": "500"}, actor=operator)  # lower: direct
    detail = direct(risk.upsert_policy, domain="WHOLESALE", changes={"max_daily_loss": "5000"}, actor=operator)
    assert "Changing WHOLESALE" in detail and "(max_daily_loss)" in detail
    risk.upsert_policy(domain="WHOLESALE", changes={"max_action_amount": "100"}, actor=operator)  # a new cap: direct
    direct(risk.upsert_policy, domain="WHOLESALE", changes={"max_action_amount": None}, actor=operator)
    risk.set_enabled(domain="WHOLESALE", enabled=False, reason="throttle", actor=operator)  # tightening: direct
    direct(risk.set_enabled, domain="WHOLESALE", enabled=True, reason="re-enable", actor=operator)
    assert RiskPolicy.objects.get(domain="WHOLESALE").max_daily_loss == Decimal("500")
    heimdall.upsert_policy(domain="WHOLESALE", changes={"min_confidence_prod": 0.95}, actor=operator)  # create: off
    direct(heimdall.upsert_policy, domain="WHOLESALE", changes={"min_confidence_prod": 0.5}, actor=operator)
    direct(heimdall.upsert_policy, domain="WHOLESALE", changes={"enabled": True}, actor=operator)
    tripwire()  # enabled: tightening
    direct(regression.upsert_policy, domain="WHOLESALE", metric="contract_rate", changes={"max_drop_fraction": 0.5},
           actor=operator)  # fmt: skip
    direct(regression.upsert_policy, domain="WHOLESALE", metric="contract_rate", changes={"enabled": False},
           actor=operator)  # fmt: skip
    regression.upsert_policy(domain="WHOLESALE", metric="contract_rate", changes={"max_drop_fraction": 0.1},
                             actor=operator)  # fmt: skip
    direct(regression.upsert_policy, domain="WHOLESALE", metric="contract_rate", changes={"mode": "dry_run"},
           actor=operator)  # fmt: skip  # a dry run never acts: as loose as disabling it


def raise_cap(actor, value="5000"):
    params = {"lever": "risk", "key": {"domain": "wholesale"}, "changes": {"max_daily_loss": value}}
    return services.request_change(kind="policy.update", params=params, reason="Black Friday volume", actor=actor)


def test_policy_request__diff_approved_applied_with_its_reason(wholesale_risk, approvals_on, operator,
                                                              second_operator):  # fmt: skip
    change = raise_cap(operator)
    assert (change.lever, change.target, change.diff) == ("risk", "risk policy WHOLESALE",
                                                          {"max_daily_loss": ["1000.0000", "5000"]})  # fmt: skip
    services.approve(change_id=change.pk, actor=second_operator)
    services.apply(change_id=change.pk, actor=operator)
    assert RiskPolicy.objects.get(domain="WHOLESALE").max_daily_loss == Decimal("5000")
    event = AuditEvent.objects.filter(lever="risk", action="policy.update").latest("id")
    assert event.reason == f"Black Friday volume (change request #{change.pk}, approved by op2)"
    assert (Decimal(event.before["max_daily_loss"]), Decimal(event.after["max_daily_loss"])) == (1000, 5000)


def test_policy_request__changed_meanwhile__apply_refused_stale(wholesale_risk, approvals_on, operator,
                                                               second_operator):  # fmt: skip
    change = raise_cap(operator)
    services.approve(change_id=change.pk, actor=second_operator)
    risk.upsert_policy(domain="WHOLESALE", changes={"max_daily_actions": 10}, actor=SETUP)  # tightened meanwhile
    with pytest.raises(Conflict) as refusal:
        services.apply(change_id=change.pk, actor=operator)
    assert refusal.value.reason == reasons.STALE_CHANGE and "(version)" in refusal.value.detail
    assert RiskPolicy.objects.get(domain="WHOLESALE").max_daily_loss == Decimal("1000")


def test_policy_request__tightening_or_bad_params__refused_naming_the_field(wholesale_risk, approvals_on, operator):
    with pytest.raises(InvalidInput) as tightening:
        raise_cap(operator, value="10")
    assert tightening.value.reason == reasons.NOT_LOOSENING
    for params, field in (
        ({"lever": "nope", "key": {}, "changes": {"enabled": True}}, "params.lever"),
        ({"lever": "risk", "key": {"domain": "WHOLESALE"}, "changes": {}}, "params.changes"),
        ({"lever": "risk", "key": {"domain": "WHOLESALE"}, "changes": {"max_daily_los": 1}}, "params.max_daily_los"),
        ({"lever": "risk", "key": {"domain": "bad domain!"}, "changes": {"enabled": True}}, "params.domain"),
        ({"lever": "risk", "key": {"domain": "WHOLESALE"}, "changes": {"max_daily_loss": "-1"}}, "max_daily_loss"),
    ):
        with pytest.raises(InvalidInput) as refusal:
            services.request_change(kind="policy.update", params=params, reason="x", actor=operator)
        assert refusal.value.field == field, refusal.value.detail


def test_api__policy_request_over_http(api, wholesale_risk, approvals_on, operator, second_operator):
    risk.upsert_policy(domain="WHOLESALE", changes={"max_action_amount": "100"}, actor=operator)  # tightening
    params = {"lever": "risk", "key": {"domain": "WHOLESALE"}, "changes": {"max_action_amount": None}}
    body = {"kind": "policy.update", "reason": "season", "params": params}
    created = api(operator).post("/api/governance/changes", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["diff"] == {"max_action_amount": ["100.0000", None]}
    change_id = created.json()["id"]
    api(second_operator).post(f"/api/governance/changes/{change_id}/approve", {}, format="json")
    applied = api(operator).post(f"/api/governance/changes/{change_id}/apply", {}, format="json")
    assert applied.status_code == 200
    assert RiskPolicy.objects.get(domain="WHOLESALE").max_action_amount is None


@pytest.mark.parametrize(
    ("name", "upsert", "tight", "loose", "diff"),
    [
        ("risk.firm", risk.upsert_firm_policy, {"max_open_exposure": "1000"}, {"max_open_exposure": None},
         {"max_open_exposure": ["1000.0000", None]}),
        ("regression.cascade", regression_cascade.upsert_cascade, {"blast_radius": 2}, {"blast_radius": 5},
         {"blast_radius": [2, 5]}),
    ],
)  # fmt: skip
def test_one_row_policies__loosening_needs_approval_and_goes_through_a_request(
    approvals_on, operator, second_operator, name, upsert, tight, loose, diff
):
    (field,) = loose
    upsert(changes=tight, actor=operator)  # a cap where there was none: tightening, direct
    detail = direct(upsert, changes=loose, actor=operator)
    assert f"({field})" in detail
    params = {"lever": name, "key": {}, "changes": loose}
    change = services.request_change(kind="policy.update", params=params, reason="wider", actor=operator)
    assert change.diff == diff
    services.approve(change_id=change.pk, actor=second_operator)
    assert services.apply(change_id=change.pk, actor=operator).state == "applied"
    assert getattr(CONTRACTS_BY_NAME[name].model.objects.get(), field) == loose[field]
