"""Reads of the Risk Guard: the daily ledger and each policy's usage of its caps today."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from governance_site.business_day import business_date

from .models import DailyTotals, Reservation, RiskPolicy, Status

ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=20, decimal_places=4))


COUNTS = ("approved_count", "denied_count", "settled_count", "released_count", "expired_count", "cancelled_count")


def _count(status: Status) -> Count:
    return Count("id", filter=Q(status=status))


def ledger(*, day: dt.date | None = None, domain: str | None = None) -> dict:
    """The ledger of a business day (default today): per domain, what was approved, denied and why.

    Counts and exposure are of the entries reserved that day; `realized_pnl` is the pnl realized
    (settled) that day, whichever day its reservation was made: the figure max_daily_loss checks.
    """
    day = day or business_date()
    entries = Reservation.objects.filter(business_date=day)
    totals = DailyTotals.objects.filter(business_date=day)
    if domain is not None:
        entries, totals = entries.filter(domain=domain), totals.filter(domain=domain)
    realized = dict(totals.values_list("domain", "realized_pnl"))
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
    return {
        "date": day,
        "domains": [
            {
                **row,
                "realized_pnl": realized.get(name, Decimal(0)),
                "denial_count_by_reason": by_reason[name],
                "denied_ids": denied_ids[name],
            }
            for name, row in sorted(by_domain.items())
        ],
    }


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
