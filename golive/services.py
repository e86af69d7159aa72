"""The Go-Live lever: read the production state, flip the switches, decide "may production execute?".

Every read goes to the database (no cache), so a change takes effect on the very next request in
every process.
"""

from dataclasses import dataclass

from django.db import DatabaseError, transaction

from governance_site.audit import services as audit
from governance_site.audit.models import Lever
from governance_site.changes import require_approval
from governance_site.errors import Conflict
from governance_site.policies import required_reason

from . import reasons
from .models import GoLiveState


@dataclass(frozen=True)
class Decision:
    ok: bool
    reason: str | None = None


ALLOW = Decision(ok=True)


def get_state() -> GoLiveState:
    """The production state row (created with production off if it is missing)."""
    state, _ = GoLiveState.objects.get_or_create(pk=GoLiveState.SINGLETON_PK)
    return state


def decision_from_state(state: GoLiveState) -> Decision:
    return _decision(kill_switch_engaged=state.kill_switch_engaged, go_live_enabled=state.go_live_enabled)


def _decision(*, kill_switch_engaged: bool, go_live_enabled: bool) -> Decision:
    if kill_switch_engaged:
        return Decision(ok=False, reason=reasons.KILL_SWITCH)
    if not go_live_enabled:
        return Decision(ok=False, reason=reasons.GO_LIVE_DISABLED)
    return ALLOW


# The two flags the decision reads, in one plain statement: every gated request, go-live check
# and reserve asks it, and building it through the ORM cost several times its round trip.
_FLAGS = "SELECT {kill}, {live} FROM {table} WHERE {pk} = %s".format(
    kill=GoLiveState._meta.get_field("kill_switch_engaged").column,
    live=GoLiveState._meta.get_field("go_live_enabled").column,
    table=GoLiveState._meta.db_table,
    pk=GoLiveState._meta.pk.column,
)


def may_execute() -> Decision:
    """May production execute now? Fails closed (`state_unavailable`) when the state cannot be read."""
    try:
        with transaction.get_connection().cursor() as cursor:
            cursor.execute(_FLAGS, [GoLiveState.SINGLETON_PK])
            flags = cursor.fetchone()
    except DatabaseError:
        return Decision(ok=False, reason=reasons.STATE_UNAVAILABLE)
    if flags is None:
        return Decision(ok=False, reason=reasons.STATE_UNAVAILABLE)
    kill_switch_engaged, go_live_enabled = flags
    return _decision(kill_switch_engaged=kill_switch_engaged, go_live_enabled=go_live_enabled)


def _locked_state() -> GoLiveState:
    get_state()
    return GoLiveState.objects.select_for_update().get(pk=GoLiveState.SINGLETON_PK)


def _apply(state: GoLiveState, *, action: str, changes: dict, reason: str, actor) -> GoLiveState:
    before = audit.snapshot(state)
    for field, value in changes.items():
        setattr(state, field, value)
    state.reason = reason
    state.changed_by = audit.actor_name(actor)
    state.save()
    audit.record(actor=actor, lever=Lever.GOLIVE, instance=state, action=action, before=before, reason=reason)
    return state


def _append_cause(state: GoLiveState, *, reason: str, actor) -> GoLiveState:
    """Engaging an engaged kill switch: the original cause (reason, who, when) stays first and the
    new one is appended to the reason; audited like any engage."""
    before = audit.snapshot(state)
    state.reason = f"{state.reason}\n+ also engaged by {audit.actor_name(actor)}: {reason}"
    state.save(update_fields=["reason"])  # changed_by and updated_at stay the original cause's
    audit.record(
        actor=actor,
        lever=Lever.GOLIVE,
        instance=state,
        action="kill_switch.engage",
        before=before,
        reason=reason,
    )
    return state


@transaction.atomic
def set_kill_switch(*, engaged: bool, reason: str, actor) -> GoLiveState:
    """Engage (which also turns go-live off) or release (which leaves go-live off) the kill switch.

    Engaging an engaged switch keeps the original cause and appends the new one (`_append_cause`);
    releasing a released switch changes nothing and writes no audit event. Releasing loosens: with
    four-eyes approvals on it needs an approved change request.
    """
    reason = required_reason(reason, what="engage or release the kill switch")
    if not engaged:
        require_approval(what="Releasing the kill switch")
    state = _locked_state()
    if engaged and state.kill_switch_engaged:
        return _append_cause(state, reason=reason, actor=actor)
    if not engaged and not state.kill_switch_engaged:
        return state
    if engaged:
        changes = {"kill_switch_engaged": True, "go_live_enabled": False}
        action = "kill_switch.engage"
    else:
        changes = {"kill_switch_engaged": False}
        action = "kill_switch.release"
    return _apply(state, action=action, changes=changes, reason=reason, actor=actor)


@transaction.atomic
def set_go_live(*, enabled: bool, reason: str, actor) -> GoLiveState:
    """Turn production on or off. Turning it on while the kill switch is engaged is a Conflict; asking
    for the state it is already in changes nothing and writes no audit event. Turning it on loosens
    (with four-eyes approvals on it needs an approved change request)."""
    reason = required_reason(reason, what="enable or disable go-live")
    if enabled:
        require_approval(what="Enabling go-live")
    state = _locked_state()
    if enabled and state.kill_switch_engaged:
        raise Conflict(
            "Go-live cannot be enabled while the kill switch is engaged: release the kill switch first.",
            field="enabled",
            reason=reasons.KILL_SWITCH_ENGAGED,
        )
    if state.go_live_enabled == enabled:
        return state  # already so: nothing changes, nothing is audited
    action = "go_live.enable" if enabled else "go_live.disable"
    return _apply(state, action=action, changes={"go_live_enabled": enabled}, reason=reason, actor=actor)
