"""The Monday control-plane review: what broke, what was denied, what drifted, on one page.

Composes each lever's own selectors; every number here is the one the lever's own page shows.
"""

import dataclasses
import datetime as dt

from django.conf import settings

from golive import services as golive
from governance_site.audit.models import AuditEvent
from governance_site.business_day import business_date
from heimdall import selectors as heimdall
from regression import selectors as regression
from risk import selectors as risk

RECENT_AUDIT_EVENTS = 15


def control_plane_review(*, day: dt.date | None = None) -> dict:
    """Everything an operator checks first, for a business day (default today)."""
    day = day or business_date()
    state = golive.get_state()
    decision = golive.decision_from_state(state)
    triggered = regression.states().filter(triggered=True).order_by("-triggered_at")
    return {
        "date": day,
        "time_zone": settings.GOVERNANCE_TIME_ZONE,
        "go_live": {
            "go_live_enabled": state.go_live_enabled,
            "kill_switch_engaged": state.kill_switch_engaged,
            "may_execute": decision.ok,
            "blocked_reason": decision.reason,
            "reason": state.reason,
            "changed_by": state.changed_by,
            "updated_at": state.updated_at,
        },
        "risk_ledger": risk.ledger(day=day)["domains"],
        "triggered_tripwires": [
            {
                "id": tripwire.pk,
                "domain": tripwire.policy.domain,
                "metric": tripwire.policy.metric,
                "kind": tripwire.policy.kind,
                "action": tripwire.policy.action,
                "action_taken": tripwire.action_taken,
                "would_have_taken": tripwire.would_have_taken,
                "baseline_rate": tripwire.baseline_rate,
                "current_rate": tripwire.current_rate,
                "drop_fraction": tripwire.drop_fraction,
                "max_drop_fraction": tripwire.policy.max_drop_fraction,
                "triggered_at": tripwire.triggered_at,
                "evaluated_at": tripwire.evaluated_at,
            }
            for tripwire in triggered
        ],
        "heimdall_scorecard": [
            {**dataclasses.asdict(row), "dropped": row.dropped} for row in heimdall.scorecard(day=day)
        ],
        "recent_audit": list(
            AuditEvent.objects.order_by("-created_at", "-id").values(
                "id", "created_at", "actor", "lever", "action", "object_repr", "reason"
            )[:RECENT_AUDIT_EVENTS]
        ),
    }
