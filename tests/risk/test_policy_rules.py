"""Defaults that do not surprise and states that never contradict: a new risk policy starts
disabled and is enabled only with its caps, inconsistent caps are refused, an upsert that changes
nothing writes nothing, and lifting a tripwire's throttle is said and recorded."""

import pytest

from governance_site.audit.models import AuditEvent
from risk import selectors, services
from risk.models import RiskPolicy

pytestmark = pytest.mark.django_db

UPSERT = "/api/governance/risk/policies/upsert"
CAPS = {"max_daily_loss": "500", "max_open_exposure": "2000", "max_daily_actions": 10}


def test_new_policy__no_enabled_given__created_disabled(api, operator):
    response = api(operator).post(UPSERT, {"domain": "WHOLESALE", **CAPS}, format="json")
    assert (response.status_code, response.json()["enabled"]) == (201, False)


@pytest.mark.parametrize("missing", ["max_daily_loss", "max_open_exposure", "max_daily_actions"])
def test_new_policy__enabled_without_a_cap__400_naming_enabled_and_nothing_written(api, operator, missing):
    body = {"domain": "WHOLESALE", "enabled": True, **{k: v for k, v in CAPS.items() if k != missing}}
    response = api(operator).post(UPSERT, body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "enabled" and missing in response.json()["detail"]
    assert not RiskPolicy.objects.exists() and not AuditEvent.objects.exists()


def test_new_policy__enabled_with_its_caps__201_enabled(api, operator):
    response = api(operator).post(UPSERT, {"domain": "WHOLESALE", "enabled": True, **CAPS}, format="json")
    assert (response.status_code, response.json()["enabled"]) == (201, True)


def test_caps__one_action_larger_than_the_exposure_cap__400_with_a_clear_message(api, operator):
    api(operator).post(UPSERT, {"domain": "WHOLESALE", **CAPS}, format="json")
    response = api(operator).post(UPSERT, {"domain": "WHOLESALE", "max_action_amount": "2500"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "max_action_amount: 2,500.00 USD is larger than max_open_exposure 2,000.00 USD: no action that "
        "large could ever be approved. Lower max_action_amount or raise max_open_exposure.",
        "field": "max_action_amount",
    }
    assert RiskPolicy.objects.get().max_action_amount is None


def test_upsert__changes_nothing__200_and_no_audit_event(api, operator):
    api(operator).post(UPSERT, {"domain": "WHOLESALE", **CAPS}, format="json")
    response = api(operator).post(UPSERT, {"domain": "WHOLESALE", **CAPS, "reason": "same again"}, format="json")
    assert response.status_code == 200
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["policy.create"]


@pytest.fixture
def throttled(operator):
    services.upsert_policy(domain="WHOLESALE", changes={**CAPS, "enabled": True}, actor=operator, reason="caps")
    services.throttle_domain(domain="WHOLESALE", reason="Regression: WHOLESALE.contract_rate dropped 21%",
                             actor="tripwire/beat")  # fmt: skip
    return RiskPolicy.objects.get(domain="WHOLESALE")


def test_reenable_after_a_throttle__recorded_as_throttle_lifted_by_the_operator(throttled, operator):
    assert selectors.throttle("WHOLESALE").actor == "tripwire/beat"
    services.set_enabled(domain="WHOLESALE", enabled=True, reason="contract flow fixed", actor=operator)
    lift = AuditEvent.objects.order_by("id").last()
    assert (lift.actor, lift.reason) == ("op", "Throttle lifted by op: contract flow fixed")
    assert selectors.throttle("WHOLESALE") is None


def test_disabled_by_an_operator__reenabling_is_no_throttle_lift(operator):
    services.upsert_policy(domain="WHOLESALE", changes={**CAPS, "enabled": True}, actor=operator, reason="caps")
    services.set_enabled(domain="WHOLESALE", enabled=False, reason="maintenance", actor=operator)
    assert selectors.throttle("WHOLESALE") is None
    services.set_enabled(domain="WHOLESALE", enabled=True, reason="done", actor=operator)
    assert AuditEvent.objects.order_by("id").last().reason == "done"


def test_admin_enable_action__throttled_policy__warned_before_and_after(client, operator, throttled):
    client.force_login(operator)
    changelist = "/admin/risk/riskpolicy/"
    selection = {"action": "enable_policies", "_selected_action": [throttled.pk]}
    confirm = client.post(changelist, selection).content.decode()
    assert 'id="throttle-WHOLESALE"' in confirm and "Enabling it lifts that throttle" in confirm
    done = client.post(changelist, {**selection, "confirm": "yes", "reason": "fixed"}, follow=True).content.decode()
    assert "the throttle is now lifted by op" in done
    assert AuditEvent.objects.order_by("id").last().reason == "Throttle lifted by op: fixed"
