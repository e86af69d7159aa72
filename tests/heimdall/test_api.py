import datetime as dt

import pytest
from django.utils import timezone

from governance_site.audit.models import AuditEvent
from governance_site.business_day import business_date
from governance_site.policies import version_of
from heimdall.models import HeimdallPolicy, SandboxTrial

pytestmark = pytest.mark.django_db

BASE = "/api/governance/heimdall"
POLICIES = f"{BASE}/policies"
UPSERT = f"{BASE}/policies/upsert"
TRIALS = f"{BASE}/trials"
CHECK = f"{BASE}/check"
SCORECARD = f"{BASE}/scorecard/today"

TRIAL = {"domain": "wholesale", "confidence": 0.91, "success": True}
ASK = {"domain": "WHOLESALE", "confidence": 0.91}
POLICY = {"domain": "WHOLESALE", "enabled": True, "min_sandbox_trials": 4, "reason": "Friday review"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", POLICIES), ("post", UPSERT), ("post", TRIALS), ("post", CHECK), ("get", SCORECARD)],
)
def test_heimdall_endpoints__anonymous__401(api, method, path):
    assert getattr(api(None), method)(path, {}, format="json").status_code == 401


@pytest.mark.parametrize(("role", "status"), [("engine", 201), ("operator", 201), ("viewer", 403), ("nobody", 403)])
def test_trials__by_role__engines_and_operators_record(api, request, role, status):
    response = api(request.getfixturevalue(role)).post(TRIALS, TRIAL, format="json")
    assert response.status_code == status
    assert SandboxTrial.objects.count() == (1 if status == 201 else 0)


@pytest.mark.parametrize(("role", "status"), [("engine", 200), ("operator", 200), ("viewer", 403), ("nobody", 403)])
def test_check__by_role__engines_and_operators_ask(api, request, role, status):
    assert api(request.getfixturevalue(role)).post(CHECK, ASK, format="json").status_code == status


@pytest.mark.parametrize("role", ["engine", "viewer", "nobody"])
def test_upsert__not_operator__403_and_nothing_written(api, request, role):
    assert api(request.getfixturevalue(role)).post(UPSERT, POLICY, format="json").status_code == 403
    assert not HeimdallPolicy.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("path", [POLICIES, SCORECARD])
@pytest.mark.parametrize(("role", "status"), [("viewer", 200), ("engine", 200), ("operator", 200), ("nobody", 403)])
def test_reads__by_role__any_governance_role(api, request, path, role, status):
    assert api(request.getfixturevalue(role)).get(path).status_code == status


def test_trials__engine__201_with_the_stored_trial(api, engine):
    body = {**TRIAL, "model_version": "offer-v3", "recommendation_ref": "offer/8812"}
    response = api(engine).post(TRIALS, body, format="json")
    data = response.json()
    assert response.status_code == 201
    assert {k: v for k, v in data.items() if k not in ("id", "created_at")} == {
        "domain": "WHOLESALE", "model_version": "offer-v3", "recommendation_ref": "offer/8812",
        "confidence": 0.91, "success": True, "actor": "engine-bot",
    }  # fmt: skip
    assert SandboxTrial.objects.get().pk == data["id"]


def test_upsert__operator__201_then_200_and_audited(api, operator):
    client = api(operator)
    created = client.post(UPSERT, POLICY, format="json")
    assert created.status_code == 201
    assert created.json() == {
        "domain": "WHOLESALE", "enabled": True, "min_confidence_prod": 0.8, "min_sandbox_trials": 4,
        "min_success_rate": 0.8, "trial_window_days": 14, "changed_by": "op",
        "updated_at": created.json()["updated_at"], "version": version_of(HeimdallPolicy.objects.get()),
    }  # fmt: skip
    changed = client.post(UPSERT, {"domain": "wholesale", "min_success_rate": 0.9}, format="json")
    assert (changed.status_code, changed.json()["min_success_rate"]) == (200, 0.9)
    assert changed.json()["min_sandbox_trials"] == 4  # what the change leaves out stays
    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.lever, e.action, e.actor, e.reason) for e in events] == [
        ("heimdall", "policy.create", "op", "Friday review"),
        ("heimdall", "policy.update", "op", ""),
    ]
    assert (events[1].before["min_success_rate"], events[1].after["min_success_rate"]) == (0.8, 0.9)
    assert client.get(POLICIES).json()["results"] == [changed.json()]


def test_check__eligible__200_with_answer(api, engine, live, make_policy, add_trials):
    make_policy()
    add_trials(successes=3, failures=1, model_version="offer-v3")
    response = api(engine).post(CHECK, {**ASK, "model_version": "offer-v3"}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "prod_eligible": True, "reason": None, "trials": 4, "success_rate": 0.75, "detail": None,
    }  # fmt: skip


def test_check__no__200_with_reason(api, engine, live, make_policy):
    make_policy()
    response = api(engine).post(CHECK, {**ASK, "confidence": 0.5}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "prod_eligible": False, "reason": "confidence_below_min", "trials": 0, "success_rate": None, "detail": None,
    }  # fmt: skip


BAD_CONFIDENCE = [
    ({"confidence": 1.5}, "confidence"),
    ({"confidence": -0.01}, "confidence"),
    ({"confidence": "NaN"}, "confidence"),
    ({"confidence": "Infinity"}, "confidence"),
    ({"confidence": "high"}, "confidence"),
    ({"confidence": True}, "confidence"),
    ({"confidence": None}, "confidence"),
    ({"domain": "whole-sale"}, "domain"),
    ({"domain": ""}, "domain"),
    ({"domain": ["WHOLESALE"]}, "domain"),
]
MISSING = ["domain", "confidence"]


@pytest.mark.parametrize(("path", "base"), [(TRIALS, TRIAL), (CHECK, ASK)])
@pytest.mark.parametrize(("bad", "field"), BAD_CONFIDENCE + [({f: ...}, f) for f in MISSING])
def test_trials_and_check__bad_input__400_naming_field(api, engine, path, base, bad, field):
    body = {k: v for k, v in {**base, **bad}.items() if v is not ...}
    response = api(engine).post(path, body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert field in response.json()["detail"]
    assert not SandboxTrial.objects.exists()


@pytest.mark.parametrize("path", [TRIALS, CHECK])
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_trials_and_check__bare_nan_from_json_dumps__400_naming_confidence(api, engine, path, literal):
    body = f'{{"domain": "WHOLESALE", "confidence": {literal}, "success": true}}'
    response = api(engine).post(path, body, content_type="application/json")
    assert (response.status_code, response.json()["field"]) == (400, "confidence")


def test_trials__success_missing__400(api, engine):
    response = api(engine).post(TRIALS, {"domain": "WHOLESALE", "confidence": 0.5}, format="json")
    assert (response.status_code, response.json()["field"]) == (400, "success")


def test_trials__malformed_json__400(api, engine):
    response = api(engine).post(TRIALS, "{not json", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"min_confidence_prod": 1.2}, "min_confidence_prod"),
        ({"min_confidence_prod": "NaN"}, "min_confidence_prod"),
        ({"min_success_rate": "most"}, "min_success_rate"),
        ({"min_sandbox_trials": 0}, "min_sandbox_trials"),
        ({"min_sandbox_trials": "many"}, "min_sandbox_trials"),
        ({"trial_window_days": 0}, "trial_window_days"),
        ({"trial_window_days": 10**12}, "trial_window_days"),
        ({"enabled": "perhaps"}, "enabled"),
        ({"domain": "no spaces"}, "domain"),
        ({"domain": ...}, "domain"),
    ],
)
def test_upsert__bad_input__400_naming_field_and_nothing_written(api, operator, bad, field):
    body = {k: v for k, v in {**POLICY, **bad}.items() if v is not ...}
    response = api(operator).post(UPSERT, body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert not HeimdallPolicy.objects.exists()
    assert not AuditEvent.objects.exists()


def test_scorecard__today__rows_in_the_documented_shape(api, viewer, live, make_policy, add_trials):
    make_policy()
    add_trials(successes=3, failures=1, at=timezone.now() - dt.timedelta(seconds=1))
    response = api(viewer).get(SCORECARD)
    assert response.status_code == 200
    assert response.json() == [
        {
            "domain": "WHOLESALE", "trials_today": 4, "successes_today": 3, "success_rate_today": 0.75,
            "success_rate_yesterday": None, "success_rate_change": None, "trials_in_window": 4,
            "success_rate_in_window": 0.75, "prod_eligible": True, "reason": None,
        }
    ]  # fmt: skip


def test_scorecard__date__that_business_day(api, viewer, add_trials):
    yesterday = business_date() - dt.timedelta(days=1)
    add_trials(successes=1, at=timezone.now() - dt.timedelta(days=1))
    (row,) = api(viewer).get(SCORECARD, {"date": yesterday.isoformat()}).json()
    assert (row["trials_today"], row["success_rate_today"]) == (1, 1.0)


@pytest.mark.parametrize("date", ["13/03/2026", "2026-02-30", "tomorrow", "9999-12-31"])
def test_scorecard__bad_or_future_date__400_naming_date(api, viewer, date):
    response = api(viewer).get(SCORECARD, {"date": date})
    assert (response.status_code, response.json()["field"]) == (400, "date")
