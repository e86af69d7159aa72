"""The Monday control-plane review: what broke, what was denied, what drifted, and what nobody
watches, over a period of business days.

Composes each lever's own selectors; every number here is the one the lever's own page shows for
the same days.
"""

import dataclasses
import datetime as dt
from collections import defaultdict
from statistics import fmean

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from golive import services as golive
from golive.models import ScopedKill
from governance_site.alerts import selectors as alerts
from governance_site.audit.models import AuditEvent
from governance_site.business_day import business_date, business_tz, day_bounds
from heimdall import selectors as heimdall
from heimdall.models import HeimdallPolicy, SandboxTrial
from regression import selectors as regression
from regression.models import KpiEvent, PolicyKind, RegressionPolicy
from risk import selectors as risk
from risk.models import RiskPolicy

from .models import ReviewSignOff

RECENT_AUDIT_EVENTS = 15
DEFAULT_DAYS = 7  # the period when no review has been completed yet
MAX_DAYS = 366  # the longest period one review covers
DRIFT_MARGIN = 0.25  # a tripwire whose drop is within this share of its threshold is drifting
SILENT_AFTER = dt.timedelta(hours=24)  # an enabled tripwire without a KPI event for this long is silent
DIRECTION_AFTER = dt.timedelta(days=7)  # "the last week's direction" of a drifting tripwire
STEADY = 0.01  # drops within one percentage point of a week ago are "steady"


@dataclasses.dataclass(frozen=True)
class Period:
    """The business days `since` to `until`, both included, in GOVERNANCE_TIME_ZONE."""

    since: dt.date
    until: dt.date

    @property
    def length(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def days(self) -> list[dt.date]:
        return [self.since + dt.timedelta(days=n) for n in range(self.length)]

    @property
    def start(self) -> dt.datetime:
        return day_bounds(self.since)[0]

    @property
    def end(self) -> dt.datetime:
        """The end of the last day (exclusive)."""
        return day_bounds(self.until)[1]

    @property
    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        return Period(self.since - dt.timedelta(days=self.length), self.since - dt.timedelta(days=1))

    @property
    def next(self) -> "Period | None":
        """The period of the same length just after this one, cut at today; None when this one ends today."""
        today = business_date()
        if self.until >= today:
            return None
        return Period(self.until + dt.timedelta(days=1), min(self.until + dt.timedelta(days=self.length), today))


def last_sign_off() -> ReviewSignOff | None:
    return ReviewSignOff.objects.order_by("-signed_at", "-id").first()


def default_period() -> Period:
    """Everything since the last completed review (from the day it ended, so nothing falls between
    two reviews), or the last 7 business days when none was completed; at most MAX_DAYS."""
    today = business_date()
    last = last_sign_off()
    since = last.until if last else today - dt.timedelta(days=DEFAULT_DAYS - 1)
    return Period(max(since, today - dt.timedelta(days=MAX_DAYS - 1)), today)


def sign_offs() -> list[ReviewSignOff]:
    return list(ReviewSignOff.objects.order_by("-signed_at", "-id"))


# --- The sections ---------------------------------------------------------------------------------


def _go_live() -> dict:
    state = golive.get_state()
    decision = golive.decision_from_state(state)
    return {
        "go_live_enabled": state.go_live_enabled,
        "kill_switch_engaged": state.kill_switch_engaged,
        "may_execute": decision.ok,
        "blocked_reason": decision.reason,
        "reason": state.reason,
        "changed_by": state.changed_by,
        "updated_at": state.updated_at,
        "unacknowledged_alert_id": alerts.unacknowledged_for(state)
        .order_by("created_at")
        .values_list("pk", flat=True)
        .first(),
    }


def _triggered_tripwires() -> list:
    """Triggered tripwires, those whose trigger awaits acknowledgement first, each group newest first."""
    triggered = list(regression.states().filter(triggered=True).order_by("-triggered_at"))
    awaiting = alerts.unacknowledged_by_object(type(triggered[0])) if triggered else {}
    for state in triggered:
        alert = awaiting.get(str(state.pk))
        state.unacknowledged_alert_id = alert.pk if alert else None
    return sorted(triggered, key=lambda state: state.unacknowledged_alert_id is None)  # stable


ALERT_FIELDS = ("id", "created_at", "severity", "title", "reason")  # an alert's row in the review

# A tripwire's row in the review: these fields of its policy, then these of its state.
TRIPWIRE_POLICY_FIELDS = ("domain", "metric", "kind", "action", "max_drop_fraction")
TRIPWIRE_STATE_FIELDS = ("action_taken", "would_have_taken", "baseline_rate", "current_rate", "drop_fraction",
                         "triggered_at", "evaluated_at")  # fmt: skip


def _tripwire_row(state) -> dict:
    row = {"id": state.pk}
    row.update((name, getattr(state.policy, name)) for name in TRIPWIRE_POLICY_FIELDS)
    row.update((name, getattr(state, name)) for name in TRIPWIRE_STATE_FIELDS)
    return row


def _action_in_force(row: dict, *, go_live: dict, risk_enabled: dict[str, bool]) -> dict:
    """Whether a triggered tripwire's action still holds: THROTTLE while the domain's risk policy
    is disabled, KILL_DOMAIN while the domain's kill switch is engaged, KILL_SWITCH while the switch
    is engaged, DEMOTE always (the demoted version earns production back through new trials, not a
    lift); if not, who lifted it and when (the audit event that re-enabled the policy or released
    the switch after the trigger). A dry run took none."""
    if not row["action_taken"]:
        return {**row, "action_in_force": False, "lifted_by": None, "lifted_at": None}
    if row["action_taken"] == "DEMOTE":
        return {**row, "action_in_force": True, "lifted_by": None, "lifted_at": None}
    if row["action_taken"] == "KILL_DOMAIN":
        label = f"domain {row['domain']}"
        in_force = ScopedKill.objects.filter(scope="domain", target=row["domain"], engaged=True).exists()
        lifts = AuditEvent.objects.filter(
            object_type="golive.scopedkill", action="kill_switch.release", object_repr=label
        )
    elif row["action_taken"] == "THROTTLE":
        in_force = not risk_enabled.get(row["domain"], False)
        lifts = AuditEvent.objects.filter(
            object_type="risk.riskpolicy", lever="risk", before__enabled=False, after__enabled=True,
            object_repr=row["domain"],
        )  # fmt: skip
    else:
        in_force = go_live["kill_switch_engaged"]
        lifts = AuditEvent.objects.filter(lever="golive", action="kill_switch.release")
    lift = None
    if not in_force and row["triggered_at"] is not None:
        lift = lifts.filter(created_at__gte=row["triggered_at"]).order_by("-created_at", "-id").first()
    return {
        **row,
        "action_in_force": in_force,
        "lifted_by": lift.actor if lift else None,
        "lifted_at": lift.created_at if lift else None,
    }


def _drop_then(policy: RegressionPolicy, *, then: dt.datetime) -> float | None:
    """The drop the policy's full window and baseline showed at `then` (the plain relative drop of
    the means; None without both spans full, or at a zero baseline)."""
    field = regression.KIND_FIELD[policy.kind]
    values = [
        float(value)
        for value in KpiEvent.objects.filter(
            domain=policy.domain,
            metric=policy.metric,
            occurred_at__lt=then,
            occurred_at__gte=then - dt.timedelta(days=policy.lookback_days),
            **{f"{field}__isnull": False},
        )
        .order_by("-occurred_at", "-id")
        .values_list(field, flat=True)[: policy.window_events + policy.baseline_events]
    ]
    window, baseline = values[: policy.window_events], values[policy.window_events :]
    if len(window) < policy.window_events or len(baseline) < policy.baseline_events or fmean(baseline) == 0:
        return None
    return (fmean(baseline) - fmean(window)) / abs(fmean(baseline))


def drifting_tripwires(*, now: dt.datetime | None = None) -> list[dict]:
    """Enabled tripwires that have not fired but whose drop is within DRIFT_MARGIN of their
    threshold (drop ≥ 75% of max_drop_fraction), with the drop a week earlier and the direction."""
    now = now or timezone.now()
    rows = []
    states = regression.states().filter(policy__enabled=True, triggered=False, drop_fraction__isnull=False)
    for state in states:
        threshold = state.policy.max_drop_fraction
        if threshold <= 0 or state.drop_fraction < (1 - DRIFT_MARGIN) * threshold:
            continue
        before = _drop_then(state.policy, then=(state.evaluated_at or now) - DIRECTION_AFTER)
        if before is None:
            direction = "new"
        elif state.drop_fraction > before + STEADY:
            direction = "worsening"
        elif state.drop_fraction < before - STEADY:
            direction = "improving"
        else:
            direction = "steady"
        rows.append(
            {
                **_tripwire_row(state),
                "threshold_share": state.drop_fraction / threshold,
                "drop_week_before": before,
                "direction": direction,
            }
        )
    return sorted(rows, key=lambda row: -row["threshold_share"])


def kpi_activity(period: Period) -> list[dict]:
    """The period's KPI events in one pass, per (domain, metric, actor, business day): how many
    (`n`), how many carry `success` (and how many of those are true), how many carry `value` (and
    their sum), the last one's time (`last`) and that of the last carrying each field
    (`last_success`, `last_value`). Every KPI section of the review folds these rows: one scan of
    the period, not one per tripwire and section."""
    last_carrying = {
        f"last_{field}": Max("occurred_at", filter=Q(**{f"{field}__isnull": False}))
        for field in regression.KIND_FIELD.values()
    }
    return list(
        KpiEvent.objects.filter(occurred_at__gte=period.start, occurred_at__lt=period.end)
        .annotate(day=TruncDate("occurred_at", tzinfo=business_tz()))
        .values("domain", "metric", "actor", "day")
        .annotate(
            n=Count("*"),  # not "id": the period index (regression's kpi_period) holds every column read here
            with_success=Count("success"),
            successes=Count("success", filter=Q(success=True)),
            with_value=Count("value"),
            value_sum=Sum("value"),
            last=Max("occurred_at"),
            **last_carrying,
        )
        .order_by()
    )


def unwatched_kpis(kpis: list[dict], policies: dict[tuple[str, str], RegressionPolicy]) -> list[dict]:
    """KPI events of the period (`kpis`) for (domain, metric) pairs no enabled tripwire watches
    (typos such as `contrat_rate` show up here): per pair the count, the last event and the engines
    sending."""
    pairs: dict[tuple[str, str], dict] = {}
    for row in kpis:
        key = (row["domain"], row["metric"])
        policy = policies.get(key)
        if policy is not None and policy.enabled:
            continue
        pair = pairs.setdefault(
            key,
            {"domain": row["domain"], "metric": row["metric"], "policy": "none" if policy is None else "disabled",
             "count": 0, "last_at": row["last"], "engines": set()},
        )  # fmt: skip
        pair["count"] += row["n"]
        pair["last_at"] = max(pair["last_at"], row["last"])
        pair["engines"].add(row["actor"])
    for pair in pairs.values():
        pair["engines"] = sorted(pair["engines"])
    return sorted(pairs.values(), key=lambda pair: (-pair["count"], pair["domain"], pair["metric"]))


def wrong_field_kpis(kpis: list[dict], policies: dict[tuple[str, str], RegressionPolicy]) -> list[dict]:
    """Per tripwire, the period's events (`kpis`) that lack the field its kind reads (a
    SUCCESS_RATE tripwire reads `success`, a MEAN_VALUE one `value`): they never count in an
    evaluation."""
    lacking: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in kpis:
        policy = policies.get((row["domain"], row["metric"]))
        if policy is not None:
            carrying = row[f"with_{regression.KIND_FIELD[policy.kind]}"]
            lacking[(policy.domain, policy.metric)][row["actor"]] += row["n"] - carrying
    rows = []
    for key, policy in policies.items():
        engines = sorted(actor for actor, n in lacking.get(key, {}).items() if n)
        if engines:
            rows.append(
                {
                    "domain": policy.domain,
                    "metric": policy.metric,
                    "kind": policy.kind,
                    "expected_field": regression.KIND_FIELD[policy.kind],
                    "count": sum(lacking[key].values()),
                    "engines": engines,
                }
            )
    return rows


def silent_tripwires(
    period: Period,
    kpis: list[dict],
    policies: dict[tuple[str, str], RegressionPolicy],
    *,
    now: dt.datetime | None = None,
) -> list[dict]:
    """Enabled tripwires whose KPI (events carrying their kind's field) has had no event for
    SILENT_AFTER before the end of the period (or now, for a period ending today). The last such
    event comes from the period's `kpis` when it lies before that moment (every event between it
    and the moment is in the period); the table is asked only for a KPI without one in the period,
    or with events dated after the moment."""
    moment = min(now or timezone.now(), period.end)
    latest: dict[tuple[str, str, str], dt.datetime] = {}  # (domain, metric, field): the period's last
    for row in kpis:
        for field in regression.KIND_FIELD.values():
            key, last = (row["domain"], row["metric"], field), row[f"last_{field}"]
            if last is not None and (key not in latest or last > latest[key]):
                latest[key] = last
    rows = []
    for policy in (policy for policy in policies.values() if policy.enabled):
        field = regression.KIND_FIELD[policy.kind]
        last = latest.get((policy.domain, policy.metric, field))
        if last is None or last >= moment:
            last = (
                KpiEvent.objects.filter(
                    domain=policy.domain, metric=policy.metric, occurred_at__lt=moment, **{f"{field}__isnull": False}
                )
                .order_by("-occurred_at", "-id")
                .values_list("occurred_at", flat=True)
                .first()
            )
        if last is None or moment - last > SILENT_AFTER:
            rows.append({"domain": policy.domain, "metric": policy.metric, "last_event_at": last})
    return rows


def unwatched_trials(period: Period) -> list[dict]:
    """Sandbox trials of the period for domains without a Heimdall policy: they earn nothing."""
    trials = (
        SandboxTrial.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .annotate(has_policy=Exists(HeimdallPolicy.objects.filter(domain=OuterRef("domain"))))
        .filter(has_policy=False)
        .values("domain", "actor")
        .annotate(n=Count("id"))
        .order_by("domain", "actor")
    )
    rows: dict[str, dict] = {}
    for row in trials:
        domain = rows.setdefault(row["domain"], {"domain": row["domain"], "count": 0, "engines": []})
        domain["count"] += row["n"]
        domain["engines"].append(row["actor"])
    return list(rows.values())


# --- Trends -----------------------------------------------------------------------------------------


def _kpi_daily(kpis: list[dict], policies: dict[tuple[str, str], RegressionPolicy]) -> dict:
    """Per tripwire (domain, metric), its KPI per business day of the period (`kpis`): the success
    rate or the mean value (by the tripwire's kind), from the events carrying that field."""
    totals: dict[tuple[str, str, dt.date], list] = {}  # [events carrying the field, their sum]
    for row in kpis:
        policy = policies.get((row["domain"], row["metric"]))
        if policy is None:
            continue
        total = totals.setdefault((row["domain"], row["metric"], row["day"]), [0, 0])
        if policy.kind == PolicyKind.SUCCESS_RATE:
            total[0] += row["with_success"]
            total[1] += row["successes"]
        elif row["with_value"]:
            total[0] += row["with_value"]
            total[1] += row["value_sum"]
    daily: dict[tuple[str, str], dict[dt.date, float]] = defaultdict(dict)
    for (domain, metric, day), (carrying, total) in totals.items():
        if carrying:
            daily[(domain, metric)][day] = total / carrying
    return daily


def trends(period: Period, kpis: list[dict], policies: dict[tuple[str, str], RegressionPolicy]) -> list[dict]:
    """Per domain, one value per business day of the period (None for a day without data):
    approvals and denials by reason, realized pnl against max_daily_loss, each tripwire's KPI (from
    the period's `kpis`) against its threshold, and the Heimdall success rate."""
    days = period.days
    activity = risk.daily_activity(since=period.since, until=period.until)
    max_loss = dict(RiskPolicy.objects.values_list("domain", "max_daily_loss"))
    _, success_rates = heimdall.daily_success_rates(days=period.length, until=period.until)
    daily_kpis = _kpi_daily(kpis, policies)
    states = {(s.policy.domain, s.policy.metric): s for s in regression.states()}
    domains = sorted(set(activity) | set(max_loss) | set(success_rates) | {domain for domain, _ in states})
    rows = []
    for domain in domains:
        by_day = activity.get(domain, {})
        reasons = sorted({reason for day in by_day.values() for reason in day["denied"]})
        tripwires = []
        for (state_domain, metric), state in sorted(states.items()):
            if state_domain != domain:
                continue
            baseline = state.baseline_rate
            tripwires.append(
                {
                    "metric": metric,
                    "kind": state.policy.kind,
                    "values": [daily_kpis.get((domain, metric), {}).get(day) for day in days],
                    "threshold": None if baseline is None else regression.drop_threshold(state.policy, baseline),
                }
            )
        rows.append(
            {
                "domain": domain,
                "approved": [by_day[day]["approved"] if day in by_day else 0 for day in days],
                "denied": {
                    reason: [by_day[day]["denied"].get(reason, 0) if day in by_day else 0 for day in days]
                    for reason in reasons
                },
                "realized_pnl": [by_day[day]["realized_pnl"] if day in by_day else 0 for day in days],
                "max_daily_loss": max_loss.get(domain),
                "tripwires": tripwires,
                "heimdall_success_rate": success_rates.get(domain, [None] * len(days)),
            }
        )
    return rows


def control_plane_review(*, period: Period | None = None) -> dict:
    """Everything an operator checks on Monday, for a period (default: since the last completed review)."""
    period = period or default_period()
    audit = AuditEvent.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    go_live = _go_live()
    risk_enabled = dict(RiskPolicy.objects.values_list("domain", "enabled"))
    policies = {(policy.domain, policy.metric): policy for policy in regression.policies()}  # by domain, metric
    kpis = kpi_activity(period)
    return {
        "since": period.since,
        "until": period.until,
        "date": period.until,
        "time_zone": settings.GOVERNANCE_TIME_ZONE,
        "last_sign_off": last_sign_off(),
        "go_live": go_live,
        "risk_ledger": risk.ledger_between(since=period.since, until=period.until),
        "triggered_tripwires": [
            {
                **_action_in_force(_tripwire_row(state), go_live=go_live, risk_enabled=risk_enabled),
                "unacknowledged_alert_id": state.unacknowledged_alert_id,
            }
            for state in _triggered_tripwires()
        ],
        "unacknowledged_alerts": list(alerts.unacknowledged().order_by("created_at").values(*ALERT_FIELDS)),
        "drifting_tripwires": drifting_tripwires(),
        "heimdall_scorecard": [
            {**dataclasses.asdict(row), "dropped": row.dropped} for row in heimdall.scorecard(day=period.until)
        ],
        "unwatched_kpis": unwatched_kpis(kpis, policies),
        "wrong_field_kpis": wrong_field_kpis(kpis, policies),
        "silent_tripwires": silent_tripwires(period, kpis, policies),
        "unwatched_trials": unwatched_trials(period),
        "trends": trends(period, kpis, policies),
        "unexplained_changes": list(
            audit.filter(reason="")
            .order_by("-created_at", "-id")
            .values("id", "created_at", "actor", "lever", "action", "object_repr", "reason")
        ),
        "audit_count": audit.count(),
        "recent_audit": list(
            audit.order_by("-created_at", "-id").values(
                "id", "created_at", "actor", "lever", "action", "object_repr", "reason"
            )[:RECENT_AUDIT_EVENTS]
        ),
    }
