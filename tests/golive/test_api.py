import pytest

from golive import services as golive_services
from governance_site.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

STATE = "/api/governance/go-live/state"
KILL = "/api/governance/go-live/kill-switch"
ENABLE = "/api/governance/go-live/enable"
CHECK = "/api/governance/go-live/check"

WRITES = [
    (KILL, {"engaged": True, "reason": "drill"}),
    (ENABLE, {"enabled": True, "reason": "launch"}),
]


@pytest.mark.parametrize("path", [STATE, CHECK, KILL, ENABLE])
def test_golive_endpoints__anonymous__401(api, path):
    response = api(None).get(path) if path in (STATE, CHECK) else api(None).post(path, {}, format="json")
    assert response.status_code == 401


def test_golive_endpoints__bad_token__401(api):
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(STATE).status_code == 401


@pytest.mark.parametrize("role", ["viewer", "engine", "nobody"])
@pytest.mark.parametrize(("path", "body"), WRITES)
def test_golive_writes__not_operator__403_and_nothing_changes(api, request, role, path, body):
    response = api(request.getfixturevalue(role)).post(path, body, format="json")
    assert response.status_code == 403
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", ["operator", "superuser"])
@pytest.mark.parametrize(("path", "body"), WRITES)
def test_golive_writes__operator__200(api, request, role, path, body):
    response = api(request.getfixturevalue(role)).post(path, body, format="json")
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize("role", ["operator", "viewer", "engine", "superuser"])
def test_golive_state__any_role__200_with_fields(api, request, role):
    response = api(request.getfixturevalue(role)).get(STATE)
    assert response.status_code == 200
    assert response.json() == {
        "go_live_enabled": False,
        "kill_switch_engaged": False,
        "reason": "Fresh install",
        "changed_by": "",
        "updated_at": response.json()["updated_at"],
        "kills": [],
    }


def test_golive_state__user_without_role__403(api, nobody):
    assert api(nobody).get(STATE).status_code == 403


def test_check__fresh_install__423_go_live_disabled(api, engine):
    response = api(engine).get(CHECK)
    assert response.status_code == 423
    assert response.json() == {
        "ok": False, "reason": "go_live_disabled", "scope": None, "engaged_by": None, "detail": "go_live_disabled"
    }  # fmt: skip


def test_check__live__204(api, engine, live):
    assert api(engine).get(CHECK).status_code == 204


def test_kill_switch__engaged__check_423_kill_switch_and_go_live_off(api, operator, engine, live):
    response = api(operator).post(KILL, {"engaged": True, "reason": "ROI crash"}, format="json")
    assert response.json()["kill_switch_engaged"] is True
    assert response.json()["go_live_enabled"] is False
    assert response.json()["changed_by"] == "op"
    check = api(engine).get(CHECK)
    assert (check.status_code, check.json()["reason"]) == (423, "kill_switch")


def test_kill_switch__released__go_live_stays_off(api, operator, live):
    client = api(operator)
    client.post(KILL, {"engaged": True, "reason": "drill"}, format="json")
    response = client.post(KILL, {"engaged": False, "reason": "drill over"}, format="json")
    assert response.status_code == 200
    assert response.json()["kill_switch_engaged"] is False
    assert response.json()["go_live_enabled"] is False
    assert client.get(CHECK).json()["reason"] == "go_live_disabled"


def test_enable__while_killed__409_with_reason_and_nothing_changes(api, operator):
    client = api(operator)
    client.post(KILL, {"engaged": True, "reason": "drill"}, format="json")
    events_before = AuditEvent.objects.count()
    response = client.post(ENABLE, {"enabled": True, "reason": "launch"}, format="json")
    assert response.status_code == 409
    assert response.json()["reason"] == "kill_switch_engaged"
    assert "kill switch" in response.json()["detail"]
    assert client.get(STATE).json()["go_live_enabled"] is False
    assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (KILL, {"reason": "x"}, "engaged"),
        (KILL, {"engaged": True}, "reason"),
        (KILL, {"engaged": True, "reason": "   "}, "reason"),
        (KILL, {"engaged": "perhaps", "reason": "x"}, "engaged"),
        (ENABLE, {"reason": "x"}, "enabled"),
        (ENABLE, {"enabled": True}, "reason"),
        (ENABLE, {"enabled": True, "reason": ""}, "reason"),
    ],
)
def test_golive_writes__bad_body__400_naming_field(api, operator, path, body, field):
    response = api(operator).post(path, body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field in response.json()["detail"]
    assert not AuditEvent.objects.exists()


def test_golive_writes__malformed_json__400(api, operator):
    response = api(operator).post(KILL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "Malformed" in response.json()["detail"]


def test_each_change__in_audit_trail_with_actor_reason_before_after(api, operator):
    client = api(operator)
    client.post(ENABLE, {"enabled": True, "reason": "launch day"}, format="json")
    client.post(KILL, {"engaged": True, "reason": "ROI crash"}, format="json")
    client.post(KILL, {"engaged": False, "reason": "fixed"}, format="json")
    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.action, e.actor, e.reason, e.lever) for e in events] == [
        ("go_live.enable", "op", "launch day", "golive"),
        ("kill_switch.engage", "op", "ROI crash", "golive"),
        ("kill_switch.release", "op", "fixed", "golive"),
    ]
    engage = events[1]
    assert engage.before["go_live_enabled"] is True and engage.before["kill_switch_engaged"] is False
    assert engage.after["go_live_enabled"] is False and engage.after["kill_switch_engaged"] is True
    assert engage.actor_user == operator


def test_state__times_shown_in_the_business_time_zone(api, viewer, settings):
    settings.TIME_ZONE = settings.GOVERNANCE_TIME_ZONE = "America/New_York"
    updated_at = api(viewer).get(STATE).json()["updated_at"]
    assert updated_at.endswith(("-05:00", "-04:00")), updated_at


# --- Repeats never contradict: the first cause stays, a no-op writes nothing ----------------------


def test_kill_switch__engaged_again__original_cause_kept_new_one_appended(api, operator, live):
    first = api(operator).post(KILL, {"engaged": True, "reason": "routing broke"}, format="json").json()
    golive_services.set_kill_switch(engaged=True, reason="Regression: CAPITAL.roi_event dropped", actor="tripwire/beat")
    state = api(operator).get(STATE).json()
    assert state["reason"] == "routing broke\n+ also engaged by tripwire/beat: Regression: CAPITAL.roi_event dropped"
    assert (state["changed_by"], state["updated_at"]) == ("op", first["updated_at"])
    again = AuditEvent.objects.filter(action="kill_switch.engage").order_by("id").last()
    assert (again.actor, again.reason, again.before["reason"]) == (
        "tripwire/beat", "Regression: CAPITAL.roi_event dropped", "routing broke",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body"),
    [(KILL, {"engaged": False, "reason": "already released"}), (ENABLE, {"enabled": False, "reason": "already off"})],
)
def test_switch__already_in_that_state__200_and_no_audit_event(api, operator, path, body):
    response = api(operator).post(path, body, format="json")
    assert response.status_code == 200
    assert not AuditEvent.objects.exists()


def test_go_live__enabled_twice__one_audit_event(api, operator):
    for _ in range(2):
        api(operator).post(ENABLE, {"enabled": True, "reason": "launch"}, format="json")
    assert AuditEvent.objects.filter(action="go_live.enable").count() == 1
