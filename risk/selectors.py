"""Reads of the Risk Guard: the daily ledger and each policy's usage of its caps today."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from governance_site.audit.models import AuditEvent
from governance_site.business_day import business_date

from .models import DailyTotals, Reservation, RiskPolicy, Status
from .reasons import THROTTLE_PREFIX

ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=20, decimal_places=4))


COUNTS = ("approved_count", "denied_count", "settled_count", "released_count", "expired_count", "cancelled_count")


def _count(status: Status) -> Count:
    return Count("id", filter=Q(status=status))


def ledger(*, day: dt.date | None = None, domain: str | None = None) -> dict:
    """The ledger of a business day (default today): per domain, what was approved, denied and why."""
    day = day or business_date()
    return {"date": day, "domains": ledger_between(since=day, until=day, domain=domain)}


def ledger_between(*, since: dt.date, until: dt.date, domain: str | None = None) -> list[dict]:
    """The ledger of the business days `since` to `until` (inclusive), one row per domain.

    Counts and exposure are of the entries reserved those days; `realized_pnl` is the pnl realized
    (settled) those days, whichever day its reservation was made: the figure max_daily_loss checks.
    """
    entries = Reservation.objects.filter(business_date__range=(since, until))
    totals = DailyTotals.objects.filter(business_date__range=(since, until))
    if domain is not None:
        entries, totals = entries.filter(domain=domain), totals.filter(domain=domain)
    realized = dict(totals.order_by().values("domain").annotate(pnl=Sum("realized_pnl")).values_list("domain", "pnl"))
    denied = entries.filter(status=Status.DENIED)
    by_reason = defaultdict(dict)
    for row in denied.values("domain", "reason").annotate(n=Count("id")).order_by("domain", "reason"):
        by_reason[row["domain"]][row["reason"]] = row["n"]
    denied_ids = defaultdict(list)
    for entry_domain, entry_id in denied.order_by("id").values_list("domain", "id"):
        denied_ids[entry_domain].append(entry_id)
    rows = (
        entries.values("domain")
        .annotate(
            approved_count=Count("id", filter=~Q(status=Status.DENIED)),
            denied_count=_count(Status.DENIED),
            open_exposure=Coalesce(Sum("amount", filter=Q(status=Status.RESERVED)), ZERO),
            settled_count=_count(Status.SETTLED),
            released_count=_count(Status.RELEASED),
            expired_count=_count(Status.EXPIRED),
            cancelled_count=_count(Status.CANCELLED),
        )
        .order_by("domain")
    )
    by_domain = {row["domain"]: row for row in rows}
    for settled_only in sorted(d for d, pnl in realized.items() if pnl and d not in by_domain):
        by_domain[settled_only] = {"domain": settled_only, **dict.fromkeys(COUNTS, 0), "open_exposure": Decimal(0)}
    return [
        {
            **row,
            "realized_pnl": realized.get(name, Decimal(0)),
            "denial_count_by_reason": by_reason[name],
            "denied_ids": denied_ids[name],
        }
        for name, row in sorted(by_domain.items())
    ]


def policies_with_usage(*, day: dt.date | None = None) -> QuerySet[RiskPolicy]:
    """The policies, each annotated with its day's (default today's) usage: `actions_used`,
    `open_exposure` (now, whatever day it was reserved) and `realized_pnl`."""
    totals = DailyTotals.objects.filter(domain=OuterRef("domain"))
    todays = totals.filter(business_date=day or business_date())
    open_exposure = totals.filter(open_exposure__gt=0).values("domain").annotate(s=Sum("open_exposure")).values("s")
    return RiskPolicy.objects.annotate(
        actions_used=Coalesce(Subquery(todays.values("approved_count")), 0),
        open_exposure=Coalesce(Subquery(open_exposure), ZERO),
        realized_pnl=Coalesce(Subquery(todays.values("realized_pnl")), ZERO),
    )


def daily_activity(*, since: dt.date, until: dt.date) -> dict[str, dict[dt.date, dict]]:
    """Per domain and business day from `since` to `until`: `approved` (count), `denied` ({reason:
    count}) and `realized_pnl` (realized that day), for the review's trends. Days without any
    entry or pnl are left out."""
    days: dict[str, dict[dt.date, dict]] = defaultdict(dict)

    def day_of(domain: str, day: dt.date) -> dict:
        return days[domain].setdefault(day, {"approved": 0, "denied": {}, "realized_pnl": Decimal(0)})

    rows = (
        Reservation.objects.filter(business_date__range=(since, until))
        .values("domain", "business_date", "status", "reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        day = day_of(row["domain"], row["business_date"])
        if row["status"] == Status.DENIED:
            day["denied"][row["reason"]] = day["denied"].get(row["reason"], 0) + row["n"]
        else:
            day["approved"] += row["n"]
    totals = DailyTotals.objects.filter(business_date__range=(since, until)).exclude(realized_pnl=0)
    for domain, day, pnl in totals.values_list("domain", "business_date", "realized_pnl"):
        day_of(domain, day)["realized_pnl"] = pnl
    return dict(days)


def throttle(domain: str) -> AuditEvent | None:
    """The audit event of the tripwire throttle that holds the domain's risk policy disabled now, or
    None (enabled, no policy, or disabled again by someone else since)."""
    policy = RiskPolicy.objects.filter(domain=domain).values("pk", "enabled").first()
    if policy is None or policy["enabled"]:
        return None
    disablings = AuditEvent.objects.filter(
        object_type=RiskPolicy._meta.label_lower, object_id=str(policy["pk"]), after__enabled=False
    ).order_by("-created_at", "-id")
    last = next((event for event in disablings.iterator() if (event.before or {}).get("enabled") is not False), None)
    return last if last is not None and last.reason.startswith(THROTTLE_PREFIX) else None
