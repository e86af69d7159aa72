"""Reads of the Heimdall Charter: the policies, the operators' daily scorecard and its daily rates."""

import datetime as dt
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from golive import services as golive
from governance_site.business_day import business_date, business_tz, day_bounds

from .models import HeimdallPolicy, SandboxTrial
from .services import TrialRecord, decide, in_window, reported


def policy_list() -> QuerySet[HeimdallPolicy]:
    return HeimdallPolicy.objects.order_by("domain")


@dataclass(frozen=True)
class ScorecardRow:
    domain: str
    trials_today: int
    successes_today: int
    success_rate_today: float | None
    trials_yesterday: int
    success_rate_yesterday: float | None
    success_rate_change: float | None  # today − yesterday; None unless both days had trials
    trials_in_window: int | None  # None without a policy (no window)
    success_rate_in_window: float | None
    prod_eligible: bool  # now, at the policy's minimum confidence
    reason: str | None

    @property
    def dropped(self) -> bool:
        return self.success_rate_change is not None and self.success_rate_change < 0


def _tallies_by_domain(trials: QuerySet[SandboxTrial], **conditions: Q) -> dict[str, dict[str, TrialRecord]]:
    """{domain: {name: TrialRecord}} for each named condition, in one grouped query."""
    counts = {}
    for name, condition in conditions.items():
        counts[f"{name}_trials"] = Count("pk", filter=condition)
        counts[f"{name}_successes"] = Count("pk", filter=condition & Q(success=True))
    rows = trials.order_by().values("domain").annotate(**counts)
    return {
        row["domain"]: {
            name: TrialRecord(trials=row[f"{name}_trials"], successes=row[f"{name}_successes"]) for name in conditions
        }
        for row in rows
    }


def _window_records(policies: dict[str, HeimdallPolicy], *, until: dt.datetime) -> dict[str, TrialRecord]:
    """Each policy's domain's trials over its own window ending at `until` (every model version)."""
    if not policies:
        return {}
    in_windows = reduce(or_, (in_window(policy, until=until) for policy in policies.values()))
    tallies = _tallies_by_domain(SandboxTrial.objects.filter(in_windows), window=Q())
    return {domain: tallies.get(domain, {}).get("window", TrialRecord()) for domain in policies}


def scorecard(*, day: dt.date | None = None, now: dt.datetime | None = None) -> list[ScorecardRow]:
    """Per domain (with a policy, or with trials that day or the day before), sorted by domain.

    Days are business days in GOVERNANCE_TIME_ZONE. The window is each policy's, ending at the
    end of `day` (or now, when `day` is today); `prod_eligible` and `reason` are always for now.
    """
    now = now or timezone.now()
    day = day or business_date(now)
    today_start, today_end = day_bounds(day)
    yesterday_start, _ = day_bounds(day - dt.timedelta(days=1))
    days = _tallies_by_domain(
        SandboxTrial.objects.filter(created_at__gte=yesterday_start, created_at__lt=today_end),
        today=Q(created_at__gte=today_start),
        yesterday=Q(created_at__lt=today_start),
    )
    policies = {policy.domain: policy for policy in policy_list()}
    windows_now = _window_records(policies, until=now)
    windows = windows_now if today_end > now else _window_records(policies, until=today_end)
    gate = golive.may_execute()

    rows = []
    for domain in sorted(set(policies) | set(days)):
        today = days.get(domain, {}).get("today", TrialRecord())
        yesterday = days.get(domain, {}).get("yesterday", TrialRecord())
        window = windows.get(domain)
        eligibility = decide(gate=gate, policy=policies.get(domain), record=windows_now.get(domain))
        change = None
        if today.trials and yesterday.trials:
            change = reported(today.success_rate - yesterday.success_rate)
        rows.append(
            ScorecardRow(
                domain=domain,
                trials_today=today.trials,
                successes_today=today.successes,
                success_rate_today=today.reported_rate,
                trials_yesterday=yesterday.trials,
                success_rate_yesterday=yesterday.reported_rate,
                success_rate_change=change,
                trials_in_window=window.trials if window else None,
                success_rate_in_window=window.reported_rate if window else None,
                prod_eligible=eligibility.prod_eligible,
                reason=eligibility.reason,
            )
        )
    return rows


def daily_success_rates(*, days: int, until: dt.date) -> tuple[list[dt.date], dict[str, list[float | None]]]:
    """The success rate (0–1, rounded as reported) of each domain's sandbox trials per business day.

    Returns the `days` business days ending with `until` (oldest first), and for each domain with
    trials on any of them (sorted by domain) one rate per day, None for a day without trials. One
    grouped query: trials are grouped by their business date in GOVERNANCE_TIME_ZONE and domain.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    dates = [until - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]
    start, _ = day_bounds(dates[0])
    _, end = day_bounds(until)
    rows = (
        SandboxTrial.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=business_tz()))
        .values("domain", "day")
        .annotate(trials=Count("pk"), successes=Count("pk", filter=Q(success=True)))
    )
    position = {day: index for index, day in enumerate(dates)}
    rates: dict[str, list[float | None]] = {}
    for row in rows:
        record = TrialRecord(trials=row["trials"], successes=row["successes"])
        rates.setdefault(row["domain"], [None] * days)[position[row["day"]]] = record.reported_rate
    return dates, dict(sorted(rates.items()))
