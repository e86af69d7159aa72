"""Which audited changes are worth telling, and how loudly: one table, read by `services`.

Keyed by (lever, audit action); each entry lists rules tried in order, the first whose `when`
accepts the event wins. Anything not in the table raises no alert.
"""

from collections.abc import Callable
from dataclasses import dataclass

from governance_site.audit.models import AuditEvent, Lever

from .models import Severity


@dataclass(frozen=True)
class Rule:
    severity: Severity
    title: str  # formatted with the event's object_repr as {object} (a tripwire's reads "D.metric status")
    requires_ack: bool = False
    when: Callable[[AuditEvent], bool] = lambda event: True


def _after(field: str, *values) -> Callable[[AuditEvent], bool]:
    """The change set `field` to one of `values` (and it was not that before)."""

    def changed(event: AuditEvent) -> bool:
        after, before = event.after or {}, event.before or {}
        return after.get(field) in values and before.get(field) != after.get(field)

    return changed


def _scoped(event: AuditEvent) -> bool:
    """A domain, engine or model-version kill switch (not the global one)."""
    return event.object_type == "golive.scopedkill"


RULES: dict[tuple[str | None, str], list[Rule]] = {
    (Lever.GOLIVE, "kill_switch.engage"): [
        Rule(Severity.CRITICAL, "Kill switch engaged: {object}", requires_ack=True, when=_scoped),
        Rule(Severity.CRITICAL, "Kill switch engaged", requires_ack=True),
    ],
    (Lever.GOLIVE, "kill_switch.release"): [
        Rule(Severity.INFO, "Kill switch released: {object}", when=_scoped),
        Rule(Severity.INFO, "Kill switch released"),
    ],
    (Lever.GOLIVE, "heartbeat.lapse"): [
        Rule(Severity.HIGH, "Engine disconnected, its open reservations cancelled ({object})", requires_ack=True)
    ],
    (Lever.RISK, "reservations.cancel"): [Rule(Severity.HIGH, "Open reservations cancelled ({object})")],
    (Lever.HEIMDALL, "model_version.demote"): [
        Rule(Severity.HIGH, "Model version demoted to the sandbox: {object}", requires_ack=True)
    ],
    (Lever.GOLIVE, "go_live.enable"): [Rule(Severity.INFO, "Go-live enabled")],
    (Lever.GOLIVE, "go_live.disable"): [Rule(Severity.INFO, "Go-live disabled")],
    (Lever.RISK, "policy.update"): [
        Rule(Severity.HIGH, "{object} throttled (risk policy disabled)", when=_after("enabled", False)),
        Rule(Severity.INFO, "{object} re-enabled (risk policy enabled)", when=_after("enabled", True)),
    ],
    (Lever.REGRESSION, "tripwire.trigger"): [Rule(Severity.HIGH, "Tripwire {object}", requires_ack=True)],
    (Lever.REGRESSION, "tripwire.escalate"): [Rule(Severity.INFO, "Tripwire escalated ({object})")],
    (Lever.REGRESSION, "tripwire.reset"): [Rule(Severity.INFO, "Tripwire reset ({object})")],
    (Lever.REGRESSION, "tripwire.status"): [
        Rule(Severity.INFO, "Tripwire cannot judge ({object})", when=_after("status", "stale", "undecidable")),
    ],
    # Any lever (four-eyes approvals, see approvals/):
    (None, "change.request"): [Rule(Severity.INFO, "Change request waiting for approval: {object}")],
    (None, "change.bypass"): [Rule(Severity.CRITICAL, "Emergency bypass, applied without approval: {object}")],
}


def rule_for(event: AuditEvent) -> Rule | None:
    candidates = RULES.get((event.lever, event.action)) or RULES.get((None, event.action), [])
    return next((rule for rule in candidates if rule.when(event)), None)
