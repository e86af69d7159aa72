"""The one policy contract, the same for every lever: key, fields, reason rule, 201/200, versions."""

import datetime as dt
import math

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from governance_site.audit.models import AuditEvent
from governance_site.errors import Conflict, InvalidInput
from governance_site.policies import STALE_VERSION, version_of
from heimdall import services as heimdall
from regression import services as regression
from regression.models import KpiEvent, RegressionState
from risk import services as risk

pytestmark = pytest.mark.django_db

ACTOR = "tests/contract"
# lever -> (upsert service, key, a valid change, API path, admin path, a full admin form)
LEVERS = {
    "risk": (
        risk.upsert_policy, {"domain": "WHOLESALE"}, {"max_daily_actions": 7}, "/api/governance/risk/policies/upsert",
        "/admin/risk/riskpolicy/",
        {"enabled": "on", "max_daily_loss": "0", "max_open_exposure": "0", "max_daily_actions": "7",
         "max_action_amount": "", "reservation_ttl_seconds": "900"},
    ),
    "heimdall": (
        heimdall.upsert_policy, {"domain": "WHOLESALE"}, {"min_sandbox_trials": 7},
        "/api/governance/heimdall/policies/upsert", "/admin/heimdall/heimdallpolicy/",
        {"min_confidence_prod": "0.8", "min_sandbox_trials": "7", "min_success_rate": "0.8",
         "trial_window_days": "14"},
    ),
    "regression": (
        regression.upsert_policy, {"domain": "PROBE", "metric": "probe_rate"}, {"window_events": 7},
        "/api/governance/regression/policies/upsert", "/admin/regression/regressionpolicy/",
        {"kind": "SUCCESS_RATE", "window_events": "7", "baseline_events": "200", "lookback_days": "30",
         "max_drop_fraction": "0.2", "action": "THROTTLE"},
    ),
}  # fmt: skip


@pytest.fixture(params=sorted(LEVERS))
def lever(request):
    return LEVERS[request.param]


def test_upsert__any_lever__answers_policy_and_created(lever):
    upsert, key, change = lever[:3]
    policy, created = upsert(**key, changes={}, actor=ACTOR)
    assert created is True
    same, created = upsert(**key, changes=change, actor=ACTOR)
    assert (same.pk, created) == (policy.pk, False)
    assert [event.action for event in AuditEvent.objects.order_by("id")] == ["policy.create", "policy.update"]


@pytest.mark.parametrize(
    ("lever_name", "name"), [(lever_name, name) for lever_name in sorted(LEVERS) for name in LEVERS[lever_name][1]]
)
def test_upsert__key_in_changes__400_naming_it_never_a_rename(lever_name, name):
    upsert, key = LEVERS[lever_name][:2]
    policy, _ = upsert(**key, changes={}, actor=ACTOR)
    with pytest.raises(InvalidInput) as raised:
        upsert(**key, changes={name: "other"}, actor=ACTOR)
    assert raised.value.field == name
    policy.refresh_from_db()
    assert getattr(policy, name) == key[name]
    assert AuditEvent.objects.count() == 1


def test_upsert__key_normalised_or_refused(lever):
    upsert, key = lever[:2]
    policy, _ = upsert(**{name: value.lower() for name, value in key.items()}, changes={}, actor=ACTOR)
    assert all(getattr(policy, name) == value for name, value in key.items())
    with pytest.raises(InvalidInput) as raised:
        upsert(**{**key, "domain": "whole sale"}, changes={}, actor=ACTOR)
    assert raised.value.field == "domain"


def test_upsert__stale_version__conflict_and_nothing_written(lever):
    upsert, key, change = lever[:3]
    policy, _ = upsert(**key, changes={}, actor=ACTOR)  # a new policy starts disabled
    seen = version_of(policy)
    upsert(**key, changes={"enabled": True}, actor="tests/other", reason="enable")
    with pytest.raises(Conflict) as raised:
        upsert(**key, changes=change, actor=ACTOR, version=seen)
    assert raised.value.reason == STALE_VERSION
    assert AuditEvent.objects.filter(actor=ACTOR).count() == 1


def test_api_upsert__any_lever__201_created_200_changed_reason_optional(api, operator, lever):
    key, change, path = lever[1], lever[2], lever[3]
    created = api(operator).post(path, {**key, **change}, format="json")
    assert created.status_code == 201, created.json()
    changed = api(operator).post(path, {**key, "enabled": True, "reason": "Friday"}, format="json")
    assert changed.status_code == 200, changed.json()
    again = api(operator).post(path, {**key, "enabled": True, "reason": "Friday again"}, format="json")
    assert again.status_code == 200, again.json()
    assert [(event.action, event.reason) for event in AuditEvent.objects.order_by("id")] == [
        ("policy.create", ""),  # unexplained: recorded with an empty reason
        ("policy.update", "Friday"),  # the repeat changed nothing: no event
    ]


def test_api_upsert__reason_required_by_setting__400_and_nothing_written(api, operator, lever, settings):
    settings.GOVERNANCE_REQUIRE_REASON = True
    key, change, path = lever[1], lever[2], lever[3]
    for body in ({**key, **change}, {**key, **change, "reason": "  "}):
        response = api(operator).post(path, body, format="json")
        assert (response.status_code, response.json()["field"]) == (400, "reason")
    assert not AuditEvent.objects.exists()
    assert api(operator).post(path, {**key, **change, "reason": "launch"}, format="json").status_code == 201


# Every policy upsert endpoint (the firm-wide one too) -> (key, a change, another change)
UPSERTS = {
    path: (key, change, {name: value + 1 for name, value in change.items()})
    for _, key, change, path, *_ in LEVERS.values()
} | {"/api/governance/risk/firm-policy/upsert": ({}, {"max_daily_loss": "5"}, {"max_daily_loss": "6"})}


@pytest.mark.parametrize("path", sorted(UPSERTS))
def test_api_upsert__stale_version__409_naming_version_and_nothing_written(api, operator, path):
    key, change, other = UPSERTS[path]
    created = api(operator).post(path, {**key, **change}, format="json")
    assert created.status_code == 201, created.json()
    seen = created.json()["version"]
    changed = api(operator).post(path, {**key, **other, "version": seen}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["version"] != seen
    stale = api(operator).post(path, {**key, **change, "version": seen}, format="json")
    assert stale.status_code == 409
    assert (stale.json()["field"], stale.json()["reason"]) == ("version", STALE_VERSION)
    assert "since you opened it" in stale.json()["detail"]
    assert [event.action for event in AuditEvent.objects.order_by("id")] == ["policy.create", "policy.update"]


def test_schema__policy_upserts__document_version_and_409(api, viewer):
    schema = api(viewer).get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    for path in UPSERTS:
        post = schema["paths"][path]["post"]
        assert "409" in post["responses"], path
        body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rpartition("/")[2]
        answer = post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rpartition("/")[2]
        assert "version" in components[body]["properties"], path
        assert "version" in components[answer]["required"], path


def test_admin_change__stale_form__refused_with_form_error(client, operator, lever):
    """Every lever's policy form carries its version: a change since it was opened is refused."""
    upsert, key, _, _, admin_path, form = lever
    upsert(**key, changes={}, actor=ACTOR)
    policy, _ = upsert(**key, changes={"enabled": True}, actor=ACTOR)
    client.force_login(operator)
    opened = client.get(f"{admin_path}{policy.pk}/change/").context["adminform"].form
    upsert(**key, changes={"enabled": False}, actor="tripwire/beat", reason="throttle")
    response = client.post(f"{admin_path}{policy.pk}/change/", {**form, "version": opened["version"].value()})
    assert response.status_code == 200
    assert "since you opened it" in response.content.decode()
    policy.refresh_from_db()
    assert policy.enabled is False
    assert not AuditEvent.objects.filter(actor="op").exists()


def test_admin_change__no_version__refused(client, operator, lever):
    upsert, key, _, _, admin_path, form = lever
    policy, _ = upsert(**key, changes={}, actor=ACTOR)
    client.force_login(operator)
    assert client.post(f"{admin_path}{policy.pk}/change/", form).status_code == 200
    assert AuditEvent.objects.count() == 1


# Regression services check their own input, whatever the caller ---------------------------------


def test_record_kpi__domain_normalised_bad_metric_invalid_naming_field():
    event, _ = regression.record_kpi(domain="wholesale", metric="Contract_Rate", success=True, actor=ACTOR)
    assert (event.domain, event.metric) == ("WHOLESALE", "contract_rate")
    with pytest.raises(InvalidInput) as raised:
        regression.record_kpi(domain="wholesale", metric="Contract Rate!", success=True, actor=ACTOR)
    assert raised.value.field == "metric"
    assert KpiEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"value": math.nan}, "value"),
        ({"value": math.inf}, "value"),
        ({"value": -math.inf}, "value"),
        ({"value": "0.5"}, "value"),
        ({"value": True}, "value"),
        ({"success": "yes"}, "success"),
        ({"success": True, "event_id": "x" * 129}, "event_id"),
        ({"success": True, "occurred_at": "2026-11-30T00:00:00Z"}, "occurred_at"),
        ({"success": True, "occurred_at": dt.datetime(2026, 11, 30)}, "occurred_at"),  # naive
    ],
)
def test_record_kpi__bad_value__invalid_input_not_integrity_error(fields, field):
    with pytest.raises(InvalidInput) as raised:
        regression.record_kpi(domain="WHOLESALE", metric="contract_rate", actor=ACTOR, **fields)
    assert raised.value.field == field
    with pytest.raises(InvalidInput) as raised:
        regression.record_kpi_batch(events=[{"domain": "WHOLESALE", "metric": "m", **fields}], actor=ACTOR)
    assert raised.value.field == f"0.{field}"
    assert not KpiEvent.objects.exists()


# Bulk actions: one transaction for the whole selection --------------------------------------------


def test_reset_action__one_of_two_not_triggered__nothing_reset(client, operator):
    for metric in ("probe_rate", "reply_rate"):
        regression.upsert_policy(domain="PROBE", metric=metric, changes={}, actor=ACTOR)
    probes = RegressionState.objects.filter(policy__domain="PROBE")
    triggered = probes.get(policy__metric="probe_rate")
    RegressionState.objects.filter(pk=triggered.pk).update(triggered=True, status="triggered")
    client.force_login(operator)
    response = client.post(
        "/admin/regression/regressionstate/",
        {"action": "reset_tripwires", ACTION_CHECKBOX_NAME: list(probes.values_list("pk", flat=True)),
         "apply": "1", "reason": "retrained"},
        follow=True,
    )  # fmt: skip
    assert "Nothing changed" in response.content.decode() and "not triggered" in response.content.decode()
    assert RegressionState.objects.get(pk=triggered.pk).triggered is True
    assert not AuditEvent.objects.filter(action="tripwire.reset").exists()
