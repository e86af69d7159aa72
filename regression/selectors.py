"""Reads of the Regression Tripwire: policies, states, and the KPI values one evaluation compares."""

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from statistics import fmean

import numpy as np
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from .models import KIND_FIELD, KpiEvent, RegressionPolicy, RegressionState


def policies() -> QuerySet[RegressionPolicy]:
    return RegressionPolicy.objects.order_by("domain", "metric")


def states() -> QuerySet[RegressionState]:
    return RegressionState.objects.select_related("policy").order_by("policy__domain", "policy__metric")


def kpi_events(**filters) -> QuerySet[KpiEvent]:
    """KPI events of a domain and/or metric (`domain=`, `metric=`), for listings.

    The always-true condition "success or value is set" (a check constraint) lets PostgreSQL answer
    such filters from the two partial indexes (a BitmapOr) instead of scanning the whole table:
    counting one (domain, metric)'s day among 3 million events took 54 ms instead of 392 ms.
    Without filters it is left out: it would only slow the plain listing down.
    """
    events = KpiEvent.objects.all()
    return events.filter(Q(success__isnull=False) | Q(value__isnull=False), **filters) if filters else events


def _latest(policy: RegressionPolicy, *fields: str, now: dt.datetime) -> QuerySet:
    """The policy's latest window + baseline events that carry its kind's field, within its
    lookback, newest first: `values_list(field, *fields)` through the kind's partial index on
    (domain, metric, occurred_at, id), whatever the size of the table."""
    field = KIND_FIELD[policy.kind]
    return (
        KpiEvent.objects.filter(
            domain=policy.domain,
            metric=policy.metric,
            occurred_at__gte=now - dt.timedelta(days=policy.lookback_days),
            **{f"{field}__isnull": False},
        )
        .order_by("-occurred_at", "-id")
        .values_list(field, *fields)[: policy.window_events + policy.baseline_events]
    )


def kpi_window(policy: RegressionPolicy, *, now: dt.datetime) -> tuple[list[float], list[float]]:
    """The policy's window (newest first) and the baseline just before it, within its lookback.

    Only events carrying the field the policy's kind needs count (`success` as 1.0 / 0.0, or
    `value`); one query reads at most window + baseline rows through the kind's index (`_latest`).
    """
    values = [float(value) for (value,) in _latest(policy, now=now)]
    return values[: policy.window_events], values[policy.window_events :]


def drop_threshold(policy: RegressionPolicy, baseline_rate: float) -> float:
    """The rate below which the drop from `baseline_rate` exceeds the policy's `max_drop_fraction`."""
    return baseline_rate - policy.max_drop_fraction * abs(baseline_rate)


@dataclass(frozen=True)
class TripwireHistory:
    """The events one evaluation reads now, oldest first: the baseline, then the window."""

    values: list[float]  # success as 1.0 / 0.0, or the value
    occurred_at: list[dt.datetime]
    baseline: range  # indexes into values
    window: range
    baseline_rate: float | None
    current_rate: float | None
    threshold: float | None  # the window rate below which the policy triggers


def tripwire_history(policy: RegressionPolicy, *, now: dt.datetime | None = None) -> TripwireHistory:
    """The KPI values `kpi_window` reads for `policy` (the same single indexed query), oldest
    first, with the baseline and window spans, their rates and the trigger threshold."""
    rows = list(_latest(policy, "occurred_at", now=now or timezone.now()))[::-1]
    values = [float(value) for value, _ in rows]
    split = max(len(values) - policy.window_events, 0)
    baseline, window = values[:split], values[split:]
    baseline_rate = fmean(baseline) if baseline else None
    return TripwireHistory(
        values=values,
        occurred_at=[moment for _, moment in rows],
        baseline=range(0, split),
        window=range(split, len(values)),
        baseline_rate=baseline_rate,
        current_rate=fmean(window) if window else None,
        threshold=None if baseline_rate is None else drop_threshold(policy, baseline_rate),
    )


def window_by_version(policy: RegressionPolicy, *, now: dt.datetime) -> dict[str, list[float]]:
    """The policy's window values (as `kpi_window` reads them) grouped by the events' model_version;
    events without one are left out."""
    rows = list(_latest(policy, "model_version", now=now))[: policy.window_events]
    by_version: dict[str, list[float]] = {}
    for value, version in rows:
        if version:
            by_version.setdefault(version, []).append(float(value))
    return by_version


def _of_kind(policy: RegressionPolicy) -> QuerySet[KpiEvent]:
    field = KIND_FIELD[policy.kind]
    return KpiEvent.objects.filter(domain=policy.domain, metric=policy.metric, **{f"{field}__isnull": False})


def _after(moment: dt.datetime, event_id: int) -> Q:
    """Events after (occurred_at, id): the order every evaluation reads in."""
    return Q(occurred_at__gt=moment) | Q(occurred_at=moment, id__gt=event_id)


@dataclass(frozen=True)
class Events:
    """KPI events of one policy's kind, oldest first: values (success as 1.0 / 0.0) and positions."""

    values: np.ndarray
    occurred_at: list[dt.datetime]
    ids: list[int]


def kpi_events_in_order(
    policy: RegressionPolicy,
    *,
    after: tuple[dt.datetime, int] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
) -> Events:
    """The policy's events after the position `after` ((occurred_at, id), exclusive), from `since`
    and before `until` (occurred_at), ordered by (occurred_at, id) through the kind's index, the
    first `limit` of them when given: one query, streamed, however many rows."""
    events = _of_kind(policy)
    if after is not None:
        events = events.filter(_after(*after))
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    rows = events.order_by("occurred_at", "id").values_list(KIND_FIELD[policy.kind], "occurred_at", "id")
    if limit is not None:
        rows = rows[:limit]
    values, moments, ids = [], [], []
    for value, moment, event_id in rows.iterator(chunk_size=20_000):
        values.append(value)
        moments.append(moment)
        ids.append(event_id)
    return Events(np.asarray(values, dtype=float), moments, ids)


def late_events(policy: RegressionPolicy, *, seen_id: int, before: tuple[dt.datetime, int]) -> tuple[int, int]:
    """(count, highest id) of the events stored after id `seen_id` whose occurred_at places them
    before the position `before`: they arrived after their place had been judged."""
    late = _of_kind(policy).filter(id__gt=seen_id).exclude(_after(*before))
    result = late.aggregate(count=Count("id"), highest=Max("id"))
    return result["count"], result["highest"] or 0


def newest_event(policy: RegressionPolicy) -> tuple[dt.datetime, int] | None:
    """(occurred_at, id) of the policy's newest event of its kind, if any."""
    return _of_kind(policy).order_by("-occurred_at", "-id").values_list("occurred_at", "id").first()


def nth_event_before(policy: RegressionPolicy, position: tuple[dt.datetime, int], n: int) -> dt.datetime | None:
    """The occurred_at of the `n`-th event before `position` (1: the one just before), if any."""
    earlier = _of_kind(policy).exclude(_after(*position)).exclude(occurred_at=position[0], id=position[1])
    return earlier.order_by("-occurred_at", "-id").values_list("occurred_at", flat=True)[n - 1 : n].first()


def kpi_warnings(events: list[dict]) -> list[str]:
    """What no tripwire will read among KPI events given as dicts (domain, metric, success, value):
    one line per (domain, metric) and problem, with its count. The events are stored all the same."""
    policies = {
        (policy.domain, policy.metric): policy
        for policy in RegressionPolicy.objects.filter(
            domain__in={event["domain"] for event in events}, metric__in={event["metric"] for event in events}
        )
    }
    problems: Counter[tuple[str, str]] = Counter()
    for event in events:
        policy = policies.get((event["domain"], event["metric"]))
        if policy is None:
            problem = "no tripwire watches it"
        elif not policy.enabled:
            problem = "its tripwire is disabled"
        elif event.get(KIND_FIELD[policy.kind]) is None:
            problem = f"its {policy.kind} tripwire reads `{KIND_FIELD[policy.kind]}`, which the event lacks"
        else:
            continue
        problems[(f"{event['domain']}.{event['metric']}", problem)] += 1
    return [f"{pair}: {problem} ({n} event{'s' * (n > 1)})" for (pair, problem), n in sorted(problems.items())]
