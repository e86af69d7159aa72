"""Scoped kill switches: each scope refuses and names itself and who engaged it; releasing one
never releases another; the go-live check, the reserve and the middleware honour every scope."""

import pytest

from golive import reasons, services
from golive.models import ScopedKill
from governance_site.audit.models import AuditEvent
from governance_site.errors import InvalidInput
from risk import services as risk

pytestmark = pytest.mark.django_db

CHECK = "/api/governance/go-live/check"
KILL = "/api/governance/go-live/kill-switch"
SCOPES = [
    ("domain", "WHOLESALE", "domain WHOLESALE"),
    ("engine", "engine-bot", "engine engine-bot"),
    ("model_version", "offer-v2", "model_version offer-v2"),
]


def kill(scope, target, operator, engaged=True, reason="drill"):
    return services.set_kill_switch(engaged=engaged, scope=scope, target=target, reason=reason, actor=operator)


@pytest.mark.parametrize(("scope", "target", "label"), SCOPES)
def test_check__scope_killed__423_naming_scope_and_who(api, engine, operator, live, scope, target, label):
    kill(scope, target, operator, reason="offer engine misfiring")
    response = api(engine).get(CHECK, {"domain": "wholesale", "model_version": "offer-v2"})
    assert response.status_code == 423
    assert response.json() == {
        "ok": False,
        "reason": reasons.KILL_SWITCH,
        "scope": label,
        "engaged_by": "op",
        "detail": f"kill_switch, scope: {label}, by op: offer engine misfiring",
    }
    # Another domain, engine and version is not covered.
    assert api(operator).get(CHECK, {"domain": "CAPITAL", "model_version": "offer-v1"}).status_code == 204


@pytest.mark.parametrize(("scope", "target", "label"), SCOPES)
def test_reserve__scope_killed__denied_kill_switch_with_scope_in_the_ledger(
    api, engine, operator, live, make_policy, scope, target, label
):
    make_policy()
    kill(scope, target, operator)
    body = {"domain": "WHOLESALE", "amount": "10", "model_version": "offer-v2"}
    answer = api(engine).post("/api/governance/risk/reserve", body, format="json").json()
    assert (answer["ok"], answer["reason"], answer["status"]) == (False, "kill_switch", "DENIED")
    assert answer["detail"] == f"kill_switch, scope: {label}, by op: drill"
    ledger = api(operator).get("/api/governance/risk/ledger/today").json()
    assert ledger["domains"][0]["denial_count_by_reason"] == {"kill_switch": 1}


def test_widest_scope_first__global_and_domain_engaged__global_named(operator, live):
    kill("domain", "WHOLESALE", operator)
    services.set_kill_switch(engaged=True, reason="everything", actor="tripwire/beat")
    decision = services.may_execute(domain="WHOLESALE")
    assert (decision.reason, decision.scope, decision.engaged_by) == ("kill_switch", "global", "tripwire/beat")


def test_release_domain__global_engaged__global_still_refuses(operator, live):
    services.set_kill_switch(engaged=True, reason="firm-wide stop", actor=operator)
    kill("domain", "WHOLESALE", operator)
    kill("domain", "WHOLESALE", operator, engaged=False, reason="wholesale fixed")
    decision = services.may_execute(domain="WHOLESALE")
    assert (decision.ok, decision.scope) == (False, "global")
    assert services.get_state().kill_switch_engaged


def test_release_global__domain_engaged__domain_still_refuses(operator, live):
    kill("domain", "WHOLESALE", operator)
    services.set_kill_switch(engaged=True, reason="stop", actor=operator)
    services.set_kill_switch(engaged=False, reason="back", actor=operator)
    services.set_go_live(enabled=True, reason="back", actor=operator)
    assert services.may_execute(domain="CAPITAL").ok
    assert services.may_execute(domain="WHOLESALE").scope == "domain WHOLESALE"


def test_engage_and_release__audited_with_before_after(operator, live):
    kill("domain", "wholesale", operator, reason="bad offers")
    kill("domain", "WHOLESALE", operator, engaged=False, reason="offers fixed")
    events = list(AuditEvent.objects.filter(object_type="golive.scopedkill").order_by("id"))
    assert [(e.action, e.reason, e.object_repr) for e in events] == [
        ("kill_switch.engage", "bad offers", "domain WHOLESALE"),
        ("kill_switch.release", "offers fixed", "domain WHOLESALE"),
    ]
    assert (events[1].before["engaged"], events[1].after["engaged"]) == (True, False)
    assert ScopedKill.objects.get().changed_by == "op"


def test_kill_switch_api__scoped__state_lists_the_kill(api, operator, live):
    body = {"engaged": True, "scope": "engine", "target": "engine-bot", "reason": "runaway"}
    state = api(operator).post(KILL, body, format="json").json()
    assert (state["kill_switch_engaged"], state["go_live_enabled"]) == (False, True)
    assert [(k["scope"], k["target"], k["changed_by"]) for k in state["kills"]] == [("engine", "engine-bot", "op")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"engaged": True, "scope": "planet", "target": "X", "reason": "r"}, "scope"),
        ({"engaged": True, "scope": "domain", "target": "bad domain", "reason": "r"}, "target"),
        ({"engaged": True, "scope": "engine", "reason": "r"}, "target"),
        ({"engaged": True, "scope": "global", "target": "X", "reason": "r"}, "target"),
        ({"engaged": True, "scope": "domain", "target": "X"}, "reason"),
    ],
)
def test_kill_switch_api__bad_scope_or_target__400_naming_field(api, operator, body, field):
    response = api(operator).post(KILL, body, format="json")
    assert (response.status_code, response.json()["field"]) == (400, field)
    assert not ScopedKill.objects.exists() and not AuditEvent.objects.exists()


def test_service__bad_scope__invalid_input(operator):
    with pytest.raises(InvalidInput) as caught:
        services.set_kill_switch(engaged=True, scope="planet", target="X", reason="r", actor=operator)
    assert caught.value.field == "scope"


def test_kill_switch_api__engine__403(api, engine):
    body = {"engaged": True, "scope": "domain", "target": "WHOLESALE", "reason": "r"}
    assert api(engine).post(KILL, body, format="json").status_code == 403


@pytest.mark.urls("tests.golive.urls")
@pytest.mark.parametrize(
    ("scope", "target", "header", "other", "sent"),
    [
        ("domain", "WHOLESALE", "HTTP_X_GOVERNANCE_DOMAIN", "CAPITAL", "wholesale"),  # normalised
        ("model_version", "offer-v2", "HTTP_X_MODEL_VERSION", "offer-v1", "offer-v2"),
    ],
)
def test_middleware__header_names_a_killed_scope__423_naming_it(client, operator, live, scope, target, header, other,
                                                                 sent):  # fmt: skip
    kill(scope, target, operator)
    assert client.post("/engine/place-offer", **{header: other}).status_code == 200
    response = client.post("/engine/place-offer", **{header: sent})
    assert (response.status_code, response.json()["scope"]) == (423, f"{scope} {target}")


@pytest.mark.urls("tests.golive.urls")
def test_middleware__logged_in_engine_killed__423_naming_engine(client, engine, operator, live):
    kill("engine", "engine-bot", operator)
    client.force_login(engine)
    response = client.post("/engine/place-offer")
    assert (response.status_code, response.json()["scope"]) == (423, "engine engine-bot")


def test_reserve_or_raise__domain_killed__risk_denied_with_reason(operator, live, make_policy):
    make_policy()
    kill("domain", "WHOLESALE", operator)
    with pytest.raises(risk.RiskDenied) as caught:
        risk.reserve_or_raise(domain="WHOLESALE", amount="1", actor="engine/x")
    assert caught.value.reason == "kill_switch"
    assert "scope: domain WHOLESALE, by op" in caught.value.reservation.detail
