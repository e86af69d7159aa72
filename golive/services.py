"""The Go-Live lever: read the production state, flip the switches, decide "may production execute?".

Every read goes to the database (no cache), so a change takes effect on the very next request in
every process.

Kill switches have four scopes, widest first: global (GoLiveState), domain, engine (the
authenticated principal) and model version (ScopedKill rows). Each is engaged and released on its
own: releasing a scope never releases a wider (or any other) one. Engaging one sends
`signals.kill_engaged` inside the same transaction (the Risk Guard cancels the open reservations
it covers).
"""

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from governance_site.audit import services as audit
from governance_site.audit.models import Lever
from governance_site.changes import require_approval
from governance_site.errors import Conflict, InvalidInput, NotFound
from governance_site.identifiers import DOMAIN
from governance_site.policies import first_error, required_reason

from . import reasons, signals
from .models import EngineHeartbeat, GoLiveState, KillScope, ScopedKill

HEARTBEAT_ACTOR = "heartbeat/beat"
MAX_TARGET = {KillScope.ENGINE: 150, KillScope.MODEL_VERSION: 64}


@dataclass(frozen=True)
class Decision:
    ok: bool
    reason: str | None = None
    scope: str | None = None  # "global", "domain WHOLESALE", "engine bot-1", "model_version v2"
    engaged_by: str | None = None  # who or what engaged the refusing switch
    detail: str = ""  # the refusal in words: scope, who, and their reason

    def as_dict(self) -> dict:
        return {"ok": self.ok, "reason": self.reason, "scope": self.scope, "engaged_by": self.engaged_by,
                "detail": self.detail}  # fmt: skip


ALLOW = Decision(ok=True)


def _refusal(reason: str, *, scope: str | None = None, engaged_by: str | None = None, why: str = "") -> Decision:
    parts = [reason] + ([f"scope: {scope}"] if scope else []) + ([f"by {engaged_by}"] if engaged_by else [])
    detail = ", ".join(parts) + (f": {why}" if why else "")
    return Decision(ok=False, reason=reason, scope=scope, engaged_by=engaged_by, detail=detail)


def get_state() -> GoLiveState:
    """The production state row (created with production off if it is missing)."""
    state, _ = GoLiveState.objects.get_or_create(pk=GoLiveState.SINGLETON_PK)
    return state


def engaged_kills() -> list[ScopedKill]:
    """The scoped kill switches engaged now."""
    return list(ScopedKill.objects.filter(engaged=True))


def scoped_kill(*, scope: KillScope | str, target) -> ScopedKill:
    """The scoped kill switch of `scope` and `target` (checked like `set_kill_switch` does: the
    InvalidInput names `target`); NotFound when it was never engaged."""
    target = _target(KillScope(scope), target)
    kill = ScopedKill.objects.filter(scope=scope, target=target).first()
    if kill is None:
        raise NotFound(f"No {scope} kill switch for {target}.", field="target")
    return kill


def _decision_rows(*, domain: str | None, engine: str | None, model_version: str | None) -> list[tuple]:
    """What a decision reads, in one statement: the state row, joined with each engaged kill
    covering this domain, engine or model version (a row each; NULLs when none) and with the
    engine's heartbeat. No row: the state row is missing. Plain SQL that SQLite and PostgreSQL
    both run: it is the one statement of every gated request."""
    state, kill, beat = (model._meta.db_table for model in (GoLiveState, ScopedKill, EngineHeartbeat))
    sql = (
        "SELECT s.kill_switch_engaged, s.go_live_enabled, s.reason, s.changed_by,"
        " k.scope, k.target, k.reason, k.changed_by,"
        " h.engine, h.max_silence_seconds, h.last_beat_at, h.lapsed_at"
        f" FROM {state} s"
        f" LEFT JOIN {kill} k ON k.engaged = %s AND ((k.scope = %s AND k.target = %s)"
        " OR (k.scope = %s AND k.target = %s) OR (k.scope = %s AND k.target = %s))"
        f" LEFT JOIN {beat} h ON h.engine = %s"
        " WHERE s.id = %s"
    )
    params = [True, KillScope.DOMAIN, domain, KillScope.ENGINE, engine, KillScope.MODEL_VERSION, model_version,
              engine, GoLiveState.SINGLETON_PK]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _moment(value: dt.datetime | None) -> dt.datetime | None:
    """A timestamp from the plain cursor, aware: SQLite's come naive, in UTC."""
    if value is not None and timezone.is_naive(value):
        return value.replace(tzinfo=dt.UTC)
    return value


def decision_from_state(
    state: GoLiveState, kills=(), heartbeat: EngineHeartbeat | None = None, *, now: dt.datetime | None = None
) -> Decision:
    """The first refusal that applies, widest kill scope first; ALLOW when none does."""
    if state.kill_switch_engaged:
        return _refusal(
            reasons.KILL_SWITCH, scope=KillScope.GLOBAL.value, engaged_by=state.changed_by, why=state.reason
        )
    rank = {scope: index for index, scope in enumerate(KillScope.values)}
    for kill in sorted(kills, key=lambda k: rank[k.scope]):
        return _refusal(reasons.KILL_SWITCH, scope=str(kill), engaged_by=kill.changed_by, why=kill.reason)
    if heartbeat is not None and heartbeat.silent_at(now or timezone.now()):
        why = f"no heartbeat since {heartbeat.last_beat_at.isoformat()} (allowed {heartbeat.max_silence_seconds}s)"
        return _refusal(reasons.HEARTBEAT_MISSED, scope=f"{KillScope.ENGINE} {heartbeat.engine}", why=why)
    if not state.go_live_enabled:
        return Decision(ok=False, reason=reasons.GO_LIVE_DISABLED, detail=reasons.GO_LIVE_DISABLED)
    return ALLOW


def may_execute(*, domain: str | None = None, engine: str | None = None, model_version: str | None = None) -> Decision:
    """May production execute now, for this domain, engine and model version (each optional)?

    Fails closed (`state_unavailable`) when the state cannot be read.
    """
    try:
        rows = _decision_rows(domain=domain, engine=engine, model_version=model_version)
    except DatabaseError:
        return Decision(ok=False, reason=reasons.STATE_UNAVAILABLE, detail=reasons.STATE_UNAVAILABLE)
    if not rows:
        return Decision(ok=False, reason=reasons.STATE_UNAVAILABLE, detail=reasons.STATE_UNAVAILABLE)
    killed, live, reason, changed_by, *_, engine_name, silence, last_beat_at, lapsed_at = rows[0]
    state = GoLiveState(kill_switch_engaged=killed, go_live_enabled=live, reason=reason, changed_by=changed_by)
    kills = [ScopedKill(scope=row[4], target=row[5], reason=row[6], changed_by=row[7], engaged=True)
             for row in rows if row[4] is not None]  # fmt: skip
    heartbeat = None
    if engine_name is not None:
        heartbeat = EngineHeartbeat(engine=engine_name, max_silence_seconds=silence,
                                    last_beat_at=_moment(last_beat_at), lapsed_at=_moment(lapsed_at))  # fmt: skip
    return decision_from_state(state, kills, heartbeat)


def _locked_state() -> GoLiveState:
    get_state()
    return GoLiveState.objects.select_for_update().get(pk=GoLiveState.SINGLETON_PK)


def _apply(instance, *, action: str, changes: dict, reason: str, actor, lever=Lever.GOLIVE):
    before = audit.snapshot(instance) if instance.pk else None
    for field, value in changes.items():
        setattr(instance, field, value)
    instance.reason = reason
    instance.changed_by = audit.actor_name(actor)
    instance.save()
    audit.record(actor=actor, lever=lever, instance=instance, action=action, before=before, reason=reason)
    return instance


def _target(scope: KillScope, target) -> str:
    """The scope's target, checked: a domain is normalised (`wholesale` → `WHOLESALE`)."""
    if scope == KillScope.DOMAIN:
        try:
            return DOMAIN.normalize(target)
        except ValueError as exc:
            raise InvalidInput(f"target: {exc}", field="target") from exc
    if not isinstance(target, str) or not target.strip() or len(target.strip()) > MAX_TARGET[scope]:
        raise InvalidInput(
            f"target: the {scope.label.lower()} to kill, a non-empty string of at most {MAX_TARGET[scope]} characters.",
            field="target",
        )
    return target.strip()


def _append_cause(state: GoLiveState | ScopedKill, *, reason: str, actor) -> GoLiveState | ScopedKill:
    """Engaging an engaged kill switch (of any scope): the original cause (reason, who, when) stays
    first and the new one is appended to the reason; audited like any engage."""
    before = audit.snapshot(state)
    state.reason = f"{state.reason}\n+ also engaged by {audit.actor_name(actor)}: {reason}"
    state.save(update_fields=["reason"])  # changed_by and updated_at stay the original cause's
    audit.record(
        actor=actor, lever=Lever.GOLIVE, instance=state, action="kill_switch.engage", before=before, reason=reason
    )
    return state


def set_kill_switch(
    *, engaged: bool, reason: str, actor, scope: KillScope | str = KillScope.GLOBAL, target: str | None = None
):
    """Engage or release the kill switch of `scope` (global, or a domain/engine/model version `target`).

    Global: engaging also turns go-live off; releasing leaves go-live off. Scoped: only that row
    changes; releasing a scope never releases another. Engaging an engaged switch keeps the
    original cause and appends the new one (`_append_cause`); releasing a released switch changes
    nothing and writes no audit event. Returns the switch (GoLiveState or ScopedKill). Audited
    `kill_switch.engage` / `kill_switch.release`. Releasing loosens: with four-eyes approvals on it
    needs an approved change request (kind `kill_switch.release`, with `scope` and `target`).

    Blocking first, cancellations after (CME's order): the switch commits on its own, so it refuses
    new work at once without waiting for reserves in flight; then, in a second transaction,
    `signals.kill_engaged` cancels the open reservations the scope covers (the Risk Guard waits for
    each domain's in-flight reserves there and cancels what they approved). Called inside an
    outer transaction (a tripwire's evaluation), both commit with it.
    """
    switch = _set_switch(engaged=engaged, reason=reason, actor=actor, scope=scope, target=target)
    if engaged:
        target = None if isinstance(switch, GoLiveState) else switch.target
        with transaction.atomic():
            signals.kill_engaged.send(
                sender=type(switch), scope=KillScope(scope), target=target, switch=switch, reason=reason, actor=actor
            )
    return switch


@transaction.atomic
def _set_switch(*, engaged: bool, reason: str, actor, scope, target):
    reason = required_reason(reason, what="engage or release a kill switch")
    try:
        scope = KillScope(scope)
    except ValueError:
        raise InvalidInput(f"scope: must be one of {', '.join(KillScope.values)}.", field="scope") from None
    if not engaged:
        require_approval(what="Releasing the kill switch" if scope == KillScope.GLOBAL else f"Releasing a {scope} kill")
    if scope == KillScope.GLOBAL:
        if target:
            raise InvalidInput("target: the global kill switch has no target.", field="target")
        switch, field = _locked_state(), "kill_switch_engaged"
        changes = {field: True, "go_live_enabled": False} if engaged else {field: False}
    else:
        target = _target(scope, target)
        ScopedKill.objects.get_or_create(scope=scope, target=target)
        switch, field = ScopedKill.objects.select_for_update().get(scope=scope, target=target), "engaged"
        changes = {field: engaged}
    if engaged and getattr(switch, field):
        switch = _append_cause(switch, reason=reason, actor=actor)
    elif not engaged and not getattr(switch, field):
        return switch
    else:
        action = "kill_switch.engage" if engaged else "kill_switch.release"
        switch = _apply(switch, action=action, changes=changes, reason=reason, actor=actor)
    return switch


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


# Heartbeats ----------------------------------------------------------------------------------


@transaction.atomic
def beat(*, actor, max_silence_seconds: int | None = None) -> EngineHeartbeat:
    """The engine `actor` is alive. The first beat registers it (with `max_silence_seconds`, default
    30); a beat after a lapse reconnects it. Registering, changing the allowance and reconnecting
    are audited; a plain beat only moves `last_beat_at`."""
    engine = audit.actor_name(actor)
    now = timezone.now()
    heartbeat = EngineHeartbeat.objects.select_for_update().filter(engine=engine).first()
    before = audit.snapshot(heartbeat) if heartbeat else None
    if heartbeat is None:
        heartbeat, action = EngineHeartbeat(engine=engine), "heartbeat.register"
    elif heartbeat.lapsed_at is not None:
        action = "heartbeat.resume"
    elif max_silence_seconds is not None and max_silence_seconds != heartbeat.max_silence_seconds:
        action = "heartbeat.update"
    else:
        action = None
    if max_silence_seconds is not None:
        heartbeat.max_silence_seconds = max_silence_seconds
    heartbeat.last_beat_at, heartbeat.lapsed_at = now, None
    if action:
        heartbeat.changed_by = engine
        try:
            heartbeat.full_clean(validate_unique=False)
        except ValidationError as exc:
            raise first_error(exc) from exc
    heartbeat.save()
    if action:
        audit.record(actor=actor, lever=Lever.GOLIVE, instance=heartbeat, action=action, before=before,
                     reason=f"{engine} beats, allowed {heartbeat.max_silence_seconds}s of silence")  # fmt: skip
    return heartbeat


def disconnect_silent(*, now: dt.datetime | None = None, actor=HEARTBEAT_ACTOR) -> list[str]:
    """Beat task: every registered engine silent past its allowance is marked lapsed (audited
    `heartbeat.lapse`) and its open reservations cancelled, each engine in its own transaction.
    Returns the engines disconnected now."""
    now = now or timezone.now()
    disconnected = []
    for heartbeat in EngineHeartbeat.objects.filter(lapsed_at__isnull=True):
        if heartbeat.silent_at(now):
            with transaction.atomic():
                if _lapse(heartbeat.engine, now=now, actor=actor):
                    disconnected.append(heartbeat.engine)
    return disconnected


def _lapse(engine: str, *, now: dt.datetime, actor) -> bool:
    heartbeat = EngineHeartbeat.objects.select_for_update().get(engine=engine)
    if not heartbeat.silent_at(now) or heartbeat.lapsed_at is not None:
        return False  # it beat meanwhile
    before = audit.snapshot(heartbeat)
    heartbeat.lapsed_at = now
    heartbeat.save(update_fields=["lapsed_at", "updated_at"])
    reason = (
        f"Cancel-on-disconnect: {engine} silent since {heartbeat.last_beat_at.isoformat()}, "
        f"more than its {heartbeat.max_silence_seconds}s"
    )
    audit.record(actor=actor, lever=Lever.GOLIVE, instance=heartbeat, action="heartbeat.lapse", before=before,
                 reason=reason)  # fmt: skip
    signals.engine_disconnected.send(sender=EngineHeartbeat, engine=engine, heartbeat=heartbeat, reason=reason,
                                     actor=actor)  # fmt: skip
    return True
