"""Change requests: the gate, self-approval, edits voiding approvals, expiry, conflicts, bypass."""

import datetime as dt

import pytest
from django.utils import timezone

from approvals import reasons, selectors, services
from approvals.models import ChangeRequest
from golive import services as golive
from governance_site import changes
from governance_site.alerts.models import Alert
from governance_site.audit.models import AuditEvent
from governance_site.errors import Conflict, InvalidInput, NotFound
from regression import services as regression
from tests.regression.conftest import outcomes

from .conftest import SETUP

pytestmark = pytest.mark.django_db
RELEASE = "kill_switch.release"


def refused(code: str, call, **kwargs):
    """`call(**kwargs)` raises a service error with reason code `code`; returns the error."""
    with pytest.raises((Conflict, InvalidInput)) as refusal:
        call(**kwargs)
    assert refusal.value.reason == code, refusal.value.detail
    return refusal.value


def test_approvals_off__one_operator_releases_directly(operator, killed):
    assert not golive.set_kill_switch(engaged=False, reason="fixed", actor=operator).kill_switch_engaged


def test_approvals_on__direct_loosening_refused_tightening_never_waits(approvals_on, operator):
    refusal = refused(changes.APPROVAL_REQUIRED, golive.set_go_live, enabled=True, reason="x", actor=operator)
    assert "Enabling go-live loosens a control" in refusal.detail
    state = golive.set_kill_switch(engaged=True, reason="protect", actor=operator)  # tightening: one step
    assert state.kill_switch_engaged
    refused(changes.APPROVAL_REQUIRED, golive.set_kill_switch, engaged=False, reason="x", actor=operator)
    assert golive.get_state().kill_switch_engaged


def test_request_approve_apply__the_change_takes_effect_every_step_audited(
    approvals_on, operator, second_operator, killed
):
    change = services.request_change(kind=RELEASE, reason="routing fixed", actor=operator)
    assert (change.state, change.target) == ("pending", "Production state")
    assert change.diff == {"kill_switch_engaged": [True, False]}
    assert Alert.objects.get(event="change.request").title.startswith("Change request waiting for approval: #")
    refused(reasons.NOT_APPROVED, services.apply, change_id=change.pk, actor=operator)
    services.approve(change_id=change.pk, note="checked the fix", actor=second_operator)
    applied = services.apply(change_id=change.pk, actor=operator)
    assert (applied.state, applied.decided_by) == ("applied", "op")
    assert not golive.get_state().kill_switch_engaged
    release = AuditEvent.objects.get(action="kill_switch.release")
    assert release.reason == f"routing fixed (change request #{change.pk}, approved by op2)"
    steps = AuditEvent.objects.filter(object_type="approvals.changerequest").order_by("id")
    assert [(e.action, e.actor) for e in steps] == [("change.request", "op"), ("change.approve", "op2"),
                                                   ("change.apply", "op")]  # fmt: skip
    refused(reasons.NOT_PENDING, services.approve, change_id=change.pk, actor=second_operator)


def test_self_approval__refused(approvals_on, operator, killed):
    change = services.request_change(kind=RELEASE, reason="x", actor=operator)
    refusal = refused(reasons.SELF_APPROVAL, services.approve, change_id=change.pk, actor=operator)
    assert "another operator must approve it" in refusal.detail
    assert not change.approvals.exists()


def test_two_approvals_required__one_is_not_enough_and_twice_by_one_is_refused(
    approvals_on, operator, second_operator, bypasser, killed
):
    approvals_on.GOVERNANCE_APPROVALS_COUNT = 2
    change = services.request_change(kind=RELEASE, reason="x", actor=operator)
    services.approve(change_id=change.pk, actor=second_operator)
    refused(reasons.ALREADY_APPROVED, services.approve, change_id=change.pk, actor=second_operator)
    refused(reasons.NOT_APPROVED, services.apply, change_id=change.pk, actor=operator)
    services.approve(change_id=change.pk, actor=bypasser)
    assert services.apply(change_id=change.pk, actor=operator).state == "applied"


def test_edit__voids_approvals_until_approved_again(approvals_on, operator, second_operator, killed):
    change = services.request_change(kind=RELEASE, reason="first reason", actor=operator)
    services.approve(change_id=change.pk, actor=second_operator)
    edited = services.edit_change(change_id=change.pk, reason="routing fixed and verified", actor=operator)
    assert (edited.revision, edited.current_approvals().count()) == (2, 0)
    assert AuditEvent.objects.get(action="change.edit").before["revision"] == 1
    refused(reasons.NOT_APPROVED, services.apply, change_id=change.pk, actor=operator)
    refused(reasons.NOT_REQUESTER, services.edit_change, change_id=change.pk, reason="mine", actor=second_operator)
    services.approve(change_id=change.pk, actor=second_operator)
    assert services.apply(change_id=change.pk, actor=operator).state == "applied"


def test_expiry__approve_and_apply_refused_and_listed_as_expired(approvals_on, operator, second_operator, killed):
    approvals_on.GOVERNANCE_APPROVALS_EXPIRE_HOURS = 2
    change = services.request_change(kind=RELEASE, reason="x", actor=operator)
    assert abs(change.expires_at - change.created_at - dt.timedelta(hours=2)) < dt.timedelta(minutes=1)
    ChangeRequest.objects.filter(pk=change.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    refused(reasons.EXPIRED, services.approve, change_id=change.pk, actor=second_operator)
    refused(reasons.EXPIRED, services.apply, change_id=change.pk, actor=operator)
    assert list(selectors.changes_in_state("expired")) == [change]
    assert list(selectors.changes_in_state("pending")) == []


def test_apply__world_changed_since_the_request__conflict_nothing_applied(approvals_on, operator, second_operator,
                                                                          killed):  # fmt: skip
    first = services.request_change(kind=RELEASE, reason="a", actor=operator)
    second = services.request_change(kind=RELEASE, reason="b", actor=operator)
    for change in (first, second):
        services.approve(change_id=change.pk, actor=second_operator)
    services.apply(change_id=first.pk, actor=operator)  # released: the second request's world is gone
    refusal = refused(reasons.STALE_CHANGE, services.apply, change_id=second.pk, actor=operator)
    assert f"Production state changed since #{second.pk}" in refusal.detail and "kill_switch_engaged" in refusal.detail
    assert ChangeRequest.objects.get(pk=second.pk).state == "pending"
    assert AuditEvent.objects.filter(action="kill_switch.release").count() == 1


def test_tripwire_reset__kill_switch_tripwire_needs_approval_a_throttle_one_does_not(
    wholesale_risk, approvals_on, operator, second_operator, tripwire, feed
):  # (the risk policy exists before approvals are on: creating it with caps loosens)
    from governance_site.alerts import selectors as alert_selectors
    from governance_site.alerts import services as alerts

    for metric, action in (("contract_rate", "THROTTLE"), ("repeat_rate", "KILL_SWITCH")):
        tripwire(metric=metric, action=action)
        feed(outcomes(200, 200) + outcomes(0, 50), metric=metric)
        state = regression.evaluate(domain="WHOLESALE", metric=metric, actor=SETUP)
        for alert in alert_selectors.unacknowledged_for(state):
            alerts.acknowledge(alert_id=alert.pk, note="seen", actor=operator)
    throttle = {"domain": "WHOLESALE", "metric": "contract_rate"}
    refused(reasons.NOT_LOOSENING, services.request_change, kind="tripwire.reset", params=throttle, reason="x",
            actor=operator)  # fmt: skip
    assert not regression.reset(**throttle, reason="fixed", actor=operator).triggered  # tightening-side: direct
    kill = {"domain": "WHOLESALE", "metric": "repeat_rate"}
    refused(changes.APPROVAL_REQUIRED, regression.reset, reason="fixed", actor=operator, **kill)
    change = services.request_change(kind="tripwire.reset", params=kill, reason="fixed", actor=operator)
    services.approve(change_id=change.pk, actor=second_operator)
    services.apply(change_id=change.pk, actor=operator)
    assert not regression.selectors.states().get(policy__metric="repeat_rate").triggered


def test_reject__with_a_note_then_closed(approvals_on, operator, second_operator, killed):
    change = services.request_change(kind=RELEASE, reason="x", actor=operator)
    with pytest.raises(InvalidInput):
        services.reject(change_id=change.pk, note=" ", actor=second_operator)
    rejected = services.reject(change_id=change.pk, note="not until the postmortem", actor=second_operator)
    assert (rejected.state, rejected.decided_by) == ("rejected", "op2")
    assert rejected.decision_note == "not until the postmortem"
    refused(reasons.NOT_PENDING, services.approve, change_id=change.pk, actor=second_operator)
    assert AuditEvent.objects.get(action="change.reject").reason == "not until the postmortem"


def test_emergency_bypass__permission_required_audited_and_a_critical_alert(approvals_on, operator, bypasser, killed):
    change = services.request_change(kind=RELEASE, reason="incident bridge: routing fixed", actor=bypasser)
    refused(reasons.BYPASS_NOT_PERMITTED, services.apply, change_id=change.pk, actor=operator, emergency=True,
            note="x")  # fmt: skip
    applied = services.apply(change_id=change.pk, actor=bypasser, emergency=True, note="SEV1, CTO on the bridge")
    assert (applied.state, applied.emergency) == ("applied", True)
    assert not golive.get_state().kill_switch_engaged
    bypass = AuditEvent.objects.get(action="change.bypass")
    assert (bypass.actor, bypass.reason) == ("incident", "SEV1, CTO on the bridge")
    alert = Alert.objects.get(event="change.bypass")
    assert alert.severity == "critical" and alert.title.startswith("Emergency bypass, applied without approval")


def test_not_loosening_or_bad_input__400_naming_the_field(approvals_on, operator):
    refused("no_change", services.request_change, kind=RELEASE, reason="x", actor=operator)  # not engaged
    for kwargs, field in (
        ({"kind": "nope", "reason": "x"}, "kind"),
        ({"kind": RELEASE, "reason": " "}, "reason"),
        ({"kind": "tripwire.reset", "params": {"domain": "W"}, "reason": "x"}, "params.metric"),
        ({"kind": RELEASE, "params": {"extra": "1"}, "reason": "x"}, "params.extra"),
    ):
        with pytest.raises(InvalidInput) as refusal:
            services.request_change(actor=operator, **kwargs)
        assert refusal.value.field == field


def test_scoped_kill__release_needs_approval__requested_approved_applied(approvals_on, operator, second_operator):
    golive.set_kill_switch(engaged=True, reason="protect", actor=operator)  # the global one stays engaged
    golive.set_kill_switch(engaged=True, scope="domain", target="WHOLESALE", reason="offers", actor=operator)
    refusal = refused(
        changes.APPROVAL_REQUIRED, golive.set_kill_switch, engaged=False, scope="domain", target="WHOLESALE",
        reason="x", actor=operator,
    )  # fmt: skip
    assert "Releasing a domain kill loosens a control" in refusal.detail
    params = {"scope": "domain", "target": "wholesale"}
    change = services.request_change(kind=RELEASE, params=params, reason="offers fixed", actor=operator)
    assert (change.target, change.diff, change.params) == (
        "domain WHOLESALE", {"engaged": [True, False]}, {"scope": "domain", "target": "WHOLESALE"},
    )  # fmt: skip
    services.approve(change_id=change.pk, actor=second_operator)
    services.apply(change_id=change.pk, actor=operator)
    assert golive.may_execute(domain="WHOLESALE").scope == "global"  # released: only the global one refuses
    assert golive.get_state().kill_switch_engaged


def test_scoped_kill__release_request_for_an_unknown_kill__404_and_bad_scope_400(approvals_on, operator):
    with pytest.raises(NotFound):
        services.request_change(kind=RELEASE, params={"scope": "engine", "target": "bot"}, reason="x", actor=operator)
    with pytest.raises(InvalidInput) as caught:
        services.request_change(kind=RELEASE, params={"scope": "planet", "target": "X"}, reason="x", actor=operator)
    assert caught.value.field == "params.scope"
