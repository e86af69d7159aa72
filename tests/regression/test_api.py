"""The Regression Tripwire's HTTP API, end to end with the other levers."""

import datetime as dt
import json

import numpy as np
import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from governance_site.audit.models import AuditEvent
from regression.models import KpiEvent, RegressionPolicy

from .conftest import outcomes

pytestmark = pytest.mark.django_db

BASE, RISK = "/api/governance/regression", "/api/governance/risk"
POLICIES, UPSERT, STATE, EVALUATE = f"{BASE}/policies", f"{BASE}/policies/upsert", f"{BASE}/state", f"{BASE}/evaluate"
KPI, BATCH, RESET = f"{BASE}/kpi", f"{BASE}/kpi/batch", f"{BASE}/reset"
KEY = {"domain": "WHOLESALE", "metric": "contract_rate"}


def post_json(client, path, body):
    return client.post(path, json.dumps(body, cls=DjangoJSONEncoder), content_type="application/json")


def test_worked_example__end_to_end__throttled_reserve_denied_and_counted_in_ledger(
    api, operator, engine, live, wholesale_risk, feed
):
    ops, bot = api(operator), api(engine)
    upsert = post_json(ops, UPSERT, {**KEY, "enabled": True, "window_events": 40, "reason": "go"})
    assert upsert.status_code == 200, upsert.json()
    stored = post_json(bot, BATCH, feed.events(outcomes(190, 200) + outcomes(30, 40)))
    assert stored.status_code == 201, stored.json()
    assert post_json(bot, f"{RISK}/reserve", {"domain": "WHOLESALE", "amount": "10"}).json()["ok"] is True

    response = bot.post(EVALUATE, "domain=WHOLESALE&metric=contract_rate&actor=test_user",
                        content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 200, response.json()
    state = response.json()
    assert (state["status"], state["triggered"], state["action_taken"]) == ("triggered", True, "THROTTLE")
    assert (state["baseline_rate"], state["current_rate"]) == (0.95, 0.75)
    assert round(state["drop_fraction"], 4) == 0.2105
    assert (state["window_count"], state["baseline_count"], state["evaluated_by"]) == (40, 200, "engine-bot")

    [policy] = [p for p in ops.get(f"{RISK}/policies").json()["results"] if p["domain"] == "WHOLESALE"]
    assert policy["enabled"] is False
    denied = post_json(bot, f"{RISK}/reserve", {"domain": "WHOLESALE", "amount": "10"}).json()
    assert (denied["ok"], denied["reason"]) == (False, "policy_disabled")
    [ledger] = [d for d in ops.get(f"{RISK}/ledger/today").json()["domains"] if d["domain"] == "WHOLESALE"]
    assert ledger["denial_count_by_reason"] == {"policy_disabled": 1}
    assert ledger["denied_count"] == 1 and ledger["approved_count"] == 1
    states = {(s["domain"], s["metric"]): s["status"] for s in ops.get(STATE).json()["results"]}
    assert states[("WHOLESALE", "contract_rate")] == "triggered"
    trail = ops.get("/api/governance/audit?lever=regression").json()["results"]
    assert trail[0]["action"] == "tripwire.trigger" and trail[0]["actor"] == "engine-bot"


@pytest.mark.urls("tests.golive.urls")
def test_kill_switch__capital_roi_negative__prod_exec_refused_423(api, operator, engine, live, client, feed):
    post_json(api(operator), UPSERT, {"domain": "CAPITAL", "metric": "roi_event", "enabled": True})
    assert client.post("/engine/place-offer").status_code == 200
    bot = api(engine)
    post_json(bot, BATCH, feed.events([12.5] * 200 + [-1.0] * 50, "CAPITAL", "roi_event"))
    state = post_json(bot, EVALUATE, {"domain": "capital", "metric": "roi_event"}).json()
    assert (state["status"], state["action_taken"]) == ("triggered", "KILL_SWITCH")
    assert state["drop_fraction"] == pytest.approx(1.08)  # (12.5 - -1) / 12.5
    production = api(operator).get("/api/governance/go-live/state").json()
    assert production["kill_switch_engaged"] is True and production["go_live_enabled"] is False
    assert production["changed_by"] == "engine-bot"
    assert production["reason"].startswith("Regression: CAPITAL.roi_event dropped 108% (> 30%); CUSUM ")
    refused = client.post("/engine/place-offer")
    assert (refused.status_code, refused.json()["reason"], refused.json()["scope"]) == (423, "kill_switch", "global")
    assert refused.json()["detail"].startswith(
        "kill_switch, scope: global, by engine-bot: Regression: CAPITAL.roi_event"
    )


def test_policies__seeded_four_disabled(api, viewer):
    body = api(viewer).get(POLICIES).json()
    assert [
        (p["domain"], p["metric"], p["kind"], p["action"], p["max_drop_fraction"], p["enabled"],
         p["window_events"], p["baseline_events"])
        for p in body["results"]
    ] == [
        ("BUYER_MATCH", "match_success", "SUCCESS_RATE", "THROTTLE", 0.25, False, 50, 200),
        ("CAPITAL", "roi_event", "MEAN_VALUE", "KILL_SWITCH", 0.3, False, 50, 200),
        ("WHOLESALE", "contract_rate", "SUCCESS_RATE", "THROTTLE", 0.2, False, 50, 200),
        ("WHOLESALE", "offer_accept_rate", "SUCCESS_RATE", "THROTTLE", 0.15, False, 50, 200),
    ]  # fmt: skip
    states = api(viewer).get(STATE).json()["results"]
    assert {(s["domain"], s["metric"], s["status"]) for s in states} == {
        (p["domain"], p["metric"], "disabled") for p in body["results"]
    }


def test_upsert__new_policy__201_with_defaults_state_and_audit(api, operator):
    body = {"domain": "buyer_match", "metric": "Reply_Rate", "enabled": True, "reason": "new engine"}
    response = post_json(api(operator), UPSERT, body)
    assert response.status_code == 201, response.json()
    policy = response.json()
    assert (policy["domain"], policy["metric"], policy["changed_by"]) == ("BUYER_MATCH", "reply_rate", "op")
    assert (policy["window_events"], policy["baseline_events"], policy["lookback_days"]) == (50, 200, 30)
    assert (policy["max_drop_fraction"], policy["kind"], policy["action"]) == (0.2, "SUCCESS_RATE", "THROTTLE")
    assert RegressionPolicy.objects.get(domain="BUYER_MATCH", metric="reply_rate").state.status == "insufficient_data"
    event = AuditEvent.objects.get(action="policy.create")
    assert (event.actor, event.lever, event.reason, event.before) == ("op", "regression", "new engine", None)


def test_upsert__existing__only_given_fields_change_and_audited(api, operator):
    response = post_json(api(operator), UPSERT, {**KEY, "max_drop_fraction": 0.1})
    assert response.status_code == 200
    assert (response.json()["max_drop_fraction"], response.json()["enabled"]) == (0.1, False)
    event = AuditEvent.objects.get(action="policy.update")
    assert (event.before["max_drop_fraction"], event.after["max_drop_fraction"]) == (0.2, 0.1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**KEY, "action": "PANIC"}, "action"),
        ({**KEY, "kind": "MEDIAN"}, "kind"),
        ({**KEY, "max_drop_fraction": 1.5}, "max_drop_fraction"),
        ({**KEY, "max_drop_fraction": -0.1}, "max_drop_fraction"),
        ({**KEY, "max_drop_fraction": "NaN"}, "max_drop_fraction"),
        ({**KEY, "window_events": 0}, "window_events"),
        ({**KEY, "baseline_events": 0}, "baseline_events"),
        ({**KEY, "lookback_days": 0}, "lookback_days"),
        ({**KEY, "enabled": "perhaps"}, "enabled"),
        ({"domain": "W" * 65, "metric": "contract_rate"}, "domain"),
        ({"domain": "WHOLESALE", "metric": "m" * 65}, "metric"),
        ({"domain": "WHOLESALE", "metric": "contract-rate"}, "metric"),
        ({"metric": "contract_rate"}, "domain"),
    ],
)
def test_upsert__bad_body__400_naming_field_and_nothing_written(api, operator, body, field):
    response = post_json(api(operator), UPSERT, body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field in response.json()["detail"]
    assert not AuditEvent.objects.exists()


def test_kpi__stored__201_with_event(api, engine):
    occurred = (timezone.now() - dt.timedelta(minutes=3)).replace(microsecond=0)
    response = post_json(api(engine), KPI, {**KEY, "success": True, "actor": "test_user", "occurred_at": occurred})
    assert response.status_code == 201, response.json()
    event = response.json()
    assert (event["domain"], event["success"], event["value"]) == ("WHOLESALE", True, None)
    # The engine's own label is kept apart; the actor is who authenticated, whatever the body says.
    assert (event["actor"], event["reported_by"]) == ("engine-bot", "test_user")
    assert event["event_id"] is None
    assert KpiEvent.objects.get().occurred_at == occurred


def test_kpi__without_actor__the_authenticated_user(api, engine):
    response = post_json(api(engine), KPI, {**KEY, "value": 3.5})
    assert (response.json()["actor"], response.json()["value"]) == ("engine-bot", 3.5)


def test_kpi__same_event_id_again__200_with_original_and_nothing_duplicated(api, engine):
    body = {**KEY, "success": False, "event_id": "deal-42"}
    first = post_json(api(engine), KPI, body)
    again = post_json(api(engine), KPI, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert KpiEvent.objects.count() == 1


def test_kpi__event_id_reused_for_another_event__422_and_nothing_written(api, engine):
    post_json(api(engine), KPI, {**KEY, "success": False, "event_id": "deal-42"})
    response = post_json(api(engine), KPI, {**KEY, "success": True, "event_id": "deal-42"})
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["reason"]) == ("event_id", "event_id_reused")
    assert KpiEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (KEY, "success"),
        ({**KEY, "success": None, "value": None}, "success"),
        ({**KEY, "value": "NaN"}, "value"),
        ({**KEY, "value": "Infinity"}, "value"),
        ({**KEY, "value": "-inf"}, "value"),
        ({**KEY, "value": 1e16}, "value"),
        ({**KEY, "value": "lots"}, "value"),
        ({**KEY, "success": "maybe"}, "success"),
        ({**KEY, "success": True, "event_id": "e" * 129}, "event_id"),
        ({**KEY, "success": True, "actor": "a" * 151}, "actor"),
        ({**KEY, "success": True, "occurred_at": "yesterday"}, "occurred_at"),
        ({**KEY, "success": True, "occurred_at": timezone.now() + dt.timedelta(hours=1)}, "occurred_at"),
        ({"domain": "WHOLESALE!", "metric": "contract_rate", "success": True}, "domain"),
        ({"domain": "WHOLESALE", "metric": "x" * 65, "success": True}, "metric"),
        ({"domain": "WHOLESALE", "success": True}, "metric"),
    ],
)
def test_kpi__bad_body__400_naming_field_and_nothing_written(api, engine, body, field):
    response = post_json(api(engine), KPI, body)
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert not KpiEvent.objects.exists()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_kpi__bare_json_nan_or_infinity__400_naming_value(api, engine, literal):
    body = f'{{"domain": "W", "metric": "m", "value": {literal}}}'
    response = api(engine).post(KPI, body, content_type="application/json")
    assert (response.status_code, response.json()["field"]) == (400, "value")
    assert not KpiEvent.objects.exists()


def test_upsert__form_encoded__415_and_nothing_written(api, operator):
    response = api(operator).post(UPSERT, {**KEY, "max_drop_fraction": "0.5"})  # multipart: a form
    assert response.status_code == 415
    assert RegressionPolicy.objects.get(**KEY).max_drop_fraction == 0.2


def test_batch__stored_in_one_go__201_with_counts(api, engine, feed):
    response = post_json(api(engine), BATCH, feed.events(outcomes(3, 5)) + feed.events([2.5], "CAPITAL", "roi_event"))
    assert response.status_code == 201
    assert response.json() == {
        "received": 6, "created": 6, "duplicates": [],
        "warnings": [  # the seeded tripwires start disabled: stored, and said so
            "CAPITAL.roi_event: its tripwire is disabled (1 event)",
            "WHOLESALE.contract_rate: its tripwire is disabled (5 events)",
        ],
    }  # fmt: skip
    assert KpiEvent.objects.filter(success=True).count() == 3
    assert set(KpiEvent.objects.values_list("actor", flat=True)) == {"engine-bot"}


def test_batch__one_bad_item__400_listing_bad_items_by_index_and_nothing_written(api, engine, feed):
    events = feed.events(outcomes(5, 10))
    events[3]["value"], events[3]["success"] = "NaN", None
    events[7]["metric"] = "Bad Metric!"
    response = post_json(api(engine), BATCH, events)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "3.value"
    assert sorted(body["errors"]) == ["3", "7"]
    assert list(body["errors"]["7"]) == ["metric"]
    assert not KpiEvent.objects.exists()


def test_batch__known_event_ids__skipped_and_reported_by_index(api, engine, feed):
    events = [{**body, "event_id": f"e{i}"} for i, body in enumerate(feed.events(outcomes(2, 4)))]
    post_json(api(engine), BATCH, events[:2])
    response = post_json(api(engine), BATCH, events)
    assert {**response.json(), "warnings": None} == {
        "received": 4,
        "created": 2,
        "duplicates": [0, 1],
        "warnings": None,
    }
    assert KpiEvent.objects.count() == 4


def test_batch__known_event_id_for_another_event__422_and_nothing_written(api, engine, feed):
    events = [{**body, "event_id": f"e{i}"} for i, body in enumerate(feed.events(outcomes(2, 4)))]
    post_json(api(engine), BATCH, events[:1])
    events[0]["success"] = False
    response = post_json(api(engine), BATCH, events)
    assert (response.status_code, response.json()["field"]) == (422, "0.event_id")
    assert KpiEvent.objects.count() == 1


def test_batch__event_id_twice_in_the_batch__400_and_nothing_written(api, engine, feed):
    events = [{**body, "event_id": "same"} for body in feed.events(outcomes(2, 2))]
    response = post_json(api(engine), BATCH, events)
    assert (response.status_code, response.json()["field"]) == (400, "1.event_id")
    assert not KpiEvent.objects.exists()


@pytest.mark.parametrize("body", [[], {"domain": "WHOLESALE"}, "not a list"])
def test_batch__not_a_non_empty_list__400(api, engine, body):
    response = post_json(api(engine), BATCH, body)
    assert response.status_code == 400
    assert not KpiEvent.objects.exists()


def test_batch__over_10000_events__400_and_nothing_written(api, engine):
    response = post_json(api(engine), BATCH, [{**KEY, "success": True}] * 10_001)
    assert response.status_code == 400
    assert "10000" in response.json()["detail"]
    assert not KpiEvent.objects.exists()


def test_batch__10000_events__accepted(api, engine):
    response = post_json(api(engine), BATCH, [{**KEY, "success": True}] * 10_000)
    assert (response.status_code, response.json()["created"]) == (201, 10_000)
    assert KpiEvent.objects.count() == 10_000


def test_evaluate__json__state(api, engine):
    response = post_json(api(engine), EVALUATE, {**KEY, "actor": "test_user"})
    assert response.status_code == 200
    assert response.json()["status"] == "disabled"
    assert response.json()["evaluated_by"] == "engine-bot"


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"domain": "WHOLESALE", "metric": "no_such_metric"}, 404, None),
    ({"domain": "WHOLESALE"}, 400, "metric"),
    ({**KEY, "actor": "x" * 151}, 400, "actor"),
])  # fmt: skip
def test_evaluate__unknown_policy_or_bad_body__refused(api, engine, body, status, field):
    response = post_json(api(engine), EVALUATE, body)
    assert (response.status_code, response.json()["field"]) == (status, field)


def test_reset__via_api__released_and_audited(api, operator, tripwire, feed):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    post_json(api(operator), EVALUATE, KEY)
    unacknowledged = post_json(api(operator), RESET, {**KEY, "reason": "retrained the model"})
    assert (unacknowledged.status_code, unacknowledged.json()["reason"]) == (409, "not_acknowledged")
    [alert] = api(operator).get("/api/governance/alerts?unacknowledged=true").json()["results"]
    assert alert["event"] == "tripwire.trigger"
    acknowledged = post_json(api(operator), f"/api/governance/alerts/{alert['id']}/acknowledge", {"note": "on it"})
    assert (acknowledged.status_code, acknowledged.json()["acknowledged_by"]) == (200, "op")
    response = post_json(api(operator), RESET, {**KEY, "reason": "retrained the model"})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["triggered"]) == ("breaching", False)  # the window still shows the drop
    assert body["warning"].startswith("WHOLESALE.contract_rate still breaches: its last evaluation showed a drop")
    assert body["epoch"] == 2  # a new epoch: it relearns from events after the reset
    event = AuditEvent.objects.get(action="tripwire.reset")
    assert (event.actor, event.reason) == ("op", "retrained the model")
    again = post_json(api(operator), RESET, {**KEY, "reason": "again"})
    assert (again.status_code, again.json()["reason"]) == (409, "not_triggered")


@pytest.mark.parametrize(("body", "field"), [(KEY, "reason"), ({**KEY, "reason": "   "}, "reason")])
def test_reset__without_reason__400(api, operator, body, field):
    response = post_json(api(operator), RESET, body)
    assert (response.status_code, response.json()["field"]) == (400, field)


@pytest.mark.parametrize(
    ("role", "path", "allowed"),
    [
        ("engine", KPI, True),
        ("engine", BATCH, True),
        ("engine", EVALUATE, True),
        ("engine", UPSERT, False),
        ("engine", RESET, False),
        ("viewer", KPI, False),
        ("viewer", BATCH, False),
        ("viewer", EVALUATE, False),
        ("viewer", UPSERT, False),
        ("viewer", RESET, False),
        ("nobody", KPI, False),
    ],
)
def test_writes__by_role__403_unless_allowed(api, request, role, path, allowed):
    response = post_json(api(request.getfixturevalue(role)), path, {})
    assert (response.status_code != 403) is allowed


@pytest.mark.parametrize("path", [POLICIES, STATE])
def test_reads__anonymous_401_and_no_role_403(api, nobody, path):
    assert api(None).get(path).status_code == 401
    assert api(nobody).get(path).status_code == 403


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "UTC", "America/New_York"])
def test_kpi__occurred_at_in_year_one__400_naming_occurred_at(api, engine, settings, zone):
    settings.TIME_ZONE = settings.GOVERNANCE_TIME_ZONE = zone
    body = {"domain": "RX", "metric": "m", "success": True, "occurred_at": "0001-01-01T00:00:00"}
    response = api(engine).post("/api/governance/regression/kpi", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "occurred_at"


def test_kpi__actor_in_body__cannot_impersonate_the_principal(api, engine):
    response = post_json(api(engine), KPI, {**KEY, "success": True, "actor": "op"})
    assert response.status_code == 201
    stored = KpiEvent.objects.get()
    assert (stored.actor, stored.reported_by) == ("engine-bot", "op")


def test_batch__actor_per_item__kept_as_reported_by_and_actor_is_the_principal(api, engine):
    items = [{**KEY, "success": True, "actor": "op"}, {**KEY, "success": False}]
    assert post_json(api(engine), BATCH, items).status_code == 201
    assert sorted(KpiEvent.objects.values_list("actor", "reported_by")) == [("engine-bot", ""), ("engine-bot", "op")]


BACKTEST, REBASELINE = f"{BASE}/backtest", f"{BASE}/rebaseline"


def test_backtest__saved_policy_and_a_draft__trips_with_times_and_nothing_written(api, operator, feed):
    rng = np.random.default_rng(20261130)
    feed((rng.random(1400) < np.repeat([0.95, 0.6, 0.95], [800, 200, 400])).tolist())
    ops = api(operator)
    audited = AuditEvent.objects.count()
    saved = post_json(ops, BACKTEST, KEY)
    assert saved.status_code == 200, saved.json()
    body = saved.json()
    assert (body["events"], body["trips"], body["policy"]["detector"]) == (1400, 1, "sequential")
    [episode] = body["episodes"]
    assert episode["change_at"] <= episode["tripped_at"] < episode["reset_at"] and episode["drop"] > 0.2
    assert body["false_trips"]["seed"] == 20261130 and body["false_trips"]["streams"] == 200
    draft = post_json(ops, BACKTEST, {**KEY, "draft": {"detector": "window_drop", "max_drop_fraction": 0.1}})
    assert draft.json()["policy"]["detector"] == "window_drop" and draft.json()["trips"] >= 1
    assert AuditEvent.objects.count() == audited
    assert RegressionPolicy.objects.get(**KEY).detector == "sequential"


def test_backtest__draft_of_a_new_policy__no_updated_at_no_version(api, operator):
    response = post_json(api(operator), BACKTEST, {"domain": "WHOLESALE", "metric": "new_rate", "draft": {}})
    assert response.status_code == 200, response.json()
    assert (response.json()["policy"]["updated_at"], response.json()["policy"]["version"]) == (None, None)


@pytest.mark.parametrize(("body", "field"), [
    ({**KEY, "draft": {"window_events": 0}}, "draft.window_events"),
    ({**KEY, "draft": {"detector": "magic"}}, "draft.detector"),
    ({**KEY, "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "start"),
    ({"domain": "WHOLESALE"}, "metric"),
])  # fmt: skip
def test_backtest__bad_input__400_naming_the_field(api, operator, body, field):
    response = post_json(api(operator), BACKTEST, body)
    assert (response.status_code, response.json()["field"]) == (400, field)


def test_backtest__viewer__refused(api, viewer):
    assert post_json(api(viewer), BACKTEST, KEY).status_code == 403


def test_rebaseline__and_undo_via_api__audited_and_409_when_nothing_to_undo(api, operator, tripwire, feed):
    tripwire()
    feed(outcomes(300, 300))
    ops = api(operator)
    pinned = post_json(ops, REBASELINE, {**KEY, "reason": "Friday: a good week"})
    assert pinned.status_code == 200, pinned.json()
    assert (pinned.json()["epoch"], pinned.json()["explanation"]["reference_pinned"]) == (2, True)
    undone = post_json(ops, f"{REBASELINE}/undo", {**KEY, "reason": "wrong week"})
    assert undone.status_code == 200 and undone.json()["epoch"] == 1
    again = post_json(ops, f"{REBASELINE}/undo", {**KEY, "reason": "again"})
    assert (again.status_code, again.json()["reason"]) == (409, "no_rebaseline")
    actions = list(
        AuditEvent.objects.filter(lever="regression", actor="op").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["tripwire.rebaseline", "tripwire.rebaseline_undo"]


def test_policy_upsert__new_fields__saved_and_validated(api, operator):
    ops = api(operator)
    body = {**KEY, "mode": "dry_run", "detector": "window_drop", "false_alarm_events": 200_000, "stale_after_hours": 6}
    saved = post_json(ops, UPSERT, body).json()
    assert {name: saved[name] for name in body} == body
    refused = post_json(ops, UPSERT, {**KEY, "false_alarm_events": 10})
    assert (refused.status_code, refused.json()["field"]) == (400, "false_alarm_events")
