"""What a tripwire does when it triggers, and how its action escalates: part of the Regression
Tripwire's services (`services.evaluate` calls these inside its transaction).

The chain of events is kept on the state (`chain`) and named in the reason each lever receives:
`Regression: WHOLESALE.contract_rate dropped 30% (> 20%) → throttle WHOLESALE → 3 domains throttled
at once (BUYERS, CAPITAL, WHOLESALE), cascade at 3 → kill switch`.

Lock order: the evaluated tripwire's policy and state (taken by the caller), then the cascade row
(`select_for_update`, which serialises every cascade decision, so two tripwires triggering at once
count each other), then the levers the action calls.
"""

import datetime as dt
from statistics import fmean

from golive import services as golive
from golive.models import KillScope
from governance_site.audit.models import Lever
from governance_site.changes import Loosens
from governance_site.policies import PolicyContract
from heimdall import services as heimdall
from risk import services as risk

from . import selectors
from .models import CascadePolicy, KpiEvent, PolicyAction, RegressionState

CASCADE = PolicyContract(
    model=CascadePolicy,
    lever=Lever.REGRESSION,
    title="tripwire cascade",
    keys=(),
    fields=("max_throttled_domains", "stabilisation_seconds", "blast_radius"),
    # More throttled domains, a longer wait or a wider blast radius before escalating, or none at all.
    loosening={
        "max_throttled_domains": Loosens.RAISE_OR_REMOVE,
        "stabilisation_seconds": Loosens.RAISE_OR_REMOVE,
        "blast_radius": Loosens.RAISE_OR_REMOVE,
    },
)
ARROW = " → "


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _act(action: PolicyAction, *, domain: str, steps: list[str], actor) -> None:
    """Take `action` with the chain so far as its reason, then add it to the chain."""
    reason = ARROW.join(steps)
    if action == PolicyAction.THROTTLE:
        risk.throttle_domain(domain=domain, reason=reason, actor=actor)
        steps.append(f"throttle {domain}")
    elif action == PolicyAction.KILL_DOMAIN:
        golive.set_kill_switch(engaged=True, scope=KillScope.DOMAIN, target=domain, reason=reason, actor=actor)
        steps.append(f"domain kill {domain}")
    else:
        golive.set_kill_switch(engaged=True, reason=reason, actor=actor)
        steps.append("kill switch")


def _throttled_domains(state: RegressionState, *, unacknowledged: bool = False) -> set[str]:
    """Domains whose tripwires (other than `state`) hold them throttled or killed now."""
    states = RegressionState.objects.filter(
        triggered=True, action_taken__in=[PolicyAction.THROTTLE, PolicyAction.KILL_DOMAIN]
    ).exclude(pk=state.pk)
    if unacknowledged:
        states = states.filter(action_taken=PolicyAction.THROTTLE, acknowledged_by="")
    return set(states.values_list("policy__domain", flat=True))


def _demote_breaching_versions(state: RegressionState, *, reason: str, actor, now: dt.datetime) -> list[str]:
    """Heimdall link: demote each model version whose own window mean is past the policy's drop
    threshold from the baseline. Returns the versions demoted (none when no event carries one)."""
    policy = state.policy
    threshold = selectors.drop_threshold(policy, state.baseline_rate)
    demoted = []
    for version, values in sorted(selectors.window_by_version(policy, now=now).items()):
        if fmean(values) < threshold:
            drop = (state.baseline_rate - fmean(values)) / abs(state.baseline_rate)
            heimdall.demote_model_version(
                domain=policy.domain, model_version=version, actor=actor,
                reason=f"{reason}; {version}'s {len(values)} window events dropped {_percent(drop)}",
            )  # fmt: skip
            demoted.append(version)
    return demoted


def take_action(state: RegressionState, *, reason: str, actor, now: dt.datetime) -> None:
    """The action of a tripwire triggering now, escalated by the cascade where it says so; sets the
    state's `action_taken` and `chain`."""
    policy = state.policy
    steps = [reason]
    if policy.heimdall_link:
        demoted = _demote_breaching_versions(state, reason=reason, actor=actor, now=now)
        if demoted:
            state.action_taken = PolicyAction.DEMOTE
            state.chain = ARROW.join([*steps, f"demote {', '.join(demoted)}"])
            return
    cascade = CascadePolicy.objects.select_for_update().first() or CascadePolicy()
    action = PolicyAction(policy.action)
    if action == PolicyAction.THROTTLE and _reached(
        cascade.blast_radius, lambda: _throttled_domains(state, unacknowledged=True) - {policy.domain}, steps,
        "blast radius: {n} domain(s) throttled without acknowledgement ({names}), at most {limit}",
    ):  # fmt: skip
        action = PolicyAction.KILL_SWITCH
    _act(action, domain=policy.domain, steps=steps, actor=actor)
    if action == PolicyAction.THROTTLE and _reached(
        cascade.max_throttled_domains, lambda: _throttled_domains(state) | {policy.domain}, steps,
        "{n} domains throttled at once ({names}), cascade at {limit}",
    ):  # fmt: skip
        action = PolicyAction.KILL_SWITCH
        _act(action, domain=policy.domain, steps=steps, actor=actor)
        state.escalated_at = now
    state.action_taken, state.chain = action, ARROW.join(steps)


def _reached(limit: int | None, domains, steps: list[str], words: str) -> bool:
    """Whether `domains()` number `limit` or more (None: no limit); if so the chain says so."""
    if limit is None:
        return False
    found = domains()
    if len(found) < limit:
        return False
    steps.append(words.format(n=len(found), names=", ".join(sorted(found)), limit=limit))
    return True


def escalate(state: RegressionState, *, actor, now: dt.datetime) -> bool:
    """A triggered tripwire whose window still breaches: after the stabilisation period, and on
    events that arrived since its last action, a throttle becomes a domain kill and a domain kill
    the global kill switch. Returns whether it escalated (the caller audits it)."""
    if state.action_taken not in (PolicyAction.THROTTLE, PolicyAction.KILL_DOMAIN):
        return False
    cascade = CascadePolicy.objects.select_for_update().first()
    if cascade is None or cascade.stabilisation_seconds is None:
        return False
    policy, since = state.policy, state.escalated_at or state.triggered_at
    waited = (now - since).total_seconds()
    fresh = KpiEvent.objects.filter(domain=policy.domain, metric=policy.metric, created_at__gt=since).exists()
    if waited < cascade.stabilisation_seconds or not fresh:
        return False
    steps = [
        state.chain,
        f"still dropped {_percent(state.drop_fraction)} {int(waited)}s later (stabilisation "
        f"{cascade.stabilisation_seconds}s)",
    ]
    action = PolicyAction.KILL_DOMAIN if state.action_taken == PolicyAction.THROTTLE else PolicyAction.KILL_SWITCH
    _act(action, domain=policy.domain, steps=steps, actor=actor)
    state.action_taken, state.escalated_at, state.chain = action, now, ARROW.join(steps)
    return True


def upsert_cascade(*, changes: dict, actor, reason: str = "", version: str | None = None):
    """Set the cascade's rules (one row); audited. Returns (cascade, created)."""
    return CASCADE.upsert(key={}, changes=changes, actor=actor, reason=reason, version=version)
