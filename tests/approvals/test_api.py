"""POST/GET /api/governance/changes and /changes/{id}/approve|reject|apply, PATCH /changes/{id}."""

import pytest

from golive import services as golive
from governance_site.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
CHANGES = "/api/governance/changes"


def post(client, path, body=None):
    return client.post(path, body or {}, format="json")


def test_api__request_self_approve_refused_other_approves_apply__released(
    api, approvals_on, operator, second_operator, killed
):
    direct = post(api(operator), "/api/governance/go-live/kill-switch", {"engaged": False, "reason": "x"})
    assert (direct.status_code, direct.json()["reason"]) == (409, "approval_required")
    created = post(api(operator), CHANGES, {"kind": "kill_switch.release", "reason": "routing fixed"})
    assert created.status_code == 201, created.json()
    change = created.json()
    assert (change["state"], change["requested_by"]) == ("pending", "op")
    assert change["diff"] == {"kill_switch_engaged": [True, False]}
    url = f"{CHANGES}/{change['id']}"
    own = post(api(operator), f"{url}/approve", {"note": "mine"})
    assert (own.status_code, own.json()["reason"]) == (409, "self_approval")
    early = post(api(operator), f"{url}/apply")
    assert (early.status_code, early.json()["reason"]) == (409, "not_approved")
    approved = post(api(second_operator), f"{url}/approve", {"note": "checked"})
    assert approved.json()["approvals"][0]["approver"] == "op2"
    pending = api(operator).get(f"{CHANGES}?status=pending").json()["results"]
    assert [c["id"] for c in pending] == [change["id"]]
    applied = post(api(operator), f"{url}/apply")
    assert (applied.status_code, applied.json()["state"]) == (200, "applied")
    assert not golive.get_state().kill_switch_engaged
    assert api(operator).get(f"{CHANGES}?status=pending").json()["results"] == []


def test_api__patch_voids_approvals_and_reject_needs_a_note(api, approvals_on, operator, second_operator, killed):
    change = post(api(operator), CHANGES, {"kind": "kill_switch.release", "reason": "a"}).json()
    url = f"{CHANGES}/{change['id']}"
    post(api(second_operator), f"{url}/approve")
    edited = api(operator).patch(url, {"reason": "a, verified"}, format="json").json()
    assert (edited["revision"], edited["approvals"]) == (2, [])
    missing = post(api(second_operator), f"{url}/reject", {"note": ""})
    assert (missing.status_code, missing.json()["field"]) == (400, "note")
    assert post(api(second_operator), f"{url}/reject", {"note": "after the postmortem"}).json()["state"] == "rejected"
    assert AuditEvent.objects.filter(action="change.reject", actor="op2").exists()


def test_api__bad_input_400_unknown_404_viewer_403(api, approvals_on, operator, viewer, killed):
    bad = post(api(operator), CHANGES, {"kind": "nope", "reason": "x"})
    assert (bad.status_code, bad.json()["field"]) == (400, "kind")
    no_reason = post(api(operator), CHANGES, {"kind": "kill_switch.release"})
    assert (no_reason.status_code, no_reason.json()["field"]) == (400, "reason")
    assert post(api(operator), f"{CHANGES}/999/approve").status_code == 404
    assert api(operator).get(f"{CHANGES}/999").status_code == 404
    assert post(api(viewer), CHANGES, {"kind": "kill_switch.release", "reason": "x"}).status_code == 403
    assert api(viewer).get(CHANGES).status_code == 200
    status = api(operator).get(f"{CHANGES}?status=bogus")
    assert (status.status_code, status.json()["field"]) == (400, "status")


def test_api__emergency_bypass(api, approvals_on, operator, bypasser, killed):
    change = post(api(bypasser), CHANGES, {"kind": "kill_switch.release", "reason": "SEV1"}).json()
    url = f"{CHANGES}/{change['id']}/apply"
    refused = post(api(operator), url, {"emergency": True, "note": "x"})
    assert (refused.status_code, refused.json()["reason"]) == (409, "bypass_not_permitted")
    done = post(api(bypasser), url, {"emergency": True, "note": "CTO on the bridge"})
    assert (done.status_code, done.json()["emergency"]) == (200, True)
