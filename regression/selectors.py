"""Reads of the Regression Tripwire: policies, states, and the KPI values one evaluation compares."""

import datetime as dt

from django.db.models import QuerySet

from .models import KpiEvent, PolicyKind, RegressionPolicy, RegressionState

KIND_FIELD = {PolicyKind.SUCCESS_RATE: "success", PolicyKind.MEAN_VALUE: "value"}


def policies() -> QuerySet[RegressionPolicy]:
    return RegressionPolicy.objects.order_by("domain", "metric")


def states() -> QuerySet[RegressionState]:
    return RegressionState.objects.select_related("policy").order_by("policy__domain", "policy__metric")


def kpi_window(policy: RegressionPolicy, *, now: dt.datetime) -> tuple[list[float], list[float]]:
    """The policy's window (newest first) and the baseline just before it, within its lookback.

    Only events carrying the field the policy's kind needs count (`success` as 1.0 / 0.0, or
    `value`). One query reads at most window + baseline rows, newest first, through the kind's
    partial index on (domain, metric, occurred_at, id), whatever the size of the table.
    """
    field = KIND_FIELD[policy.kind]
    values = [
        float(value)
        for value in KpiEvent.objects.filter(
            domain=policy.domain,
            metric=policy.metric,
            occurred_at__gte=now - dt.timedelta(days=policy.lookback_days),
            **{f"{field}__isnull": False},
        )
        .order_by("-occurred_at", "-id")
        .values_list(field, flat=True)[: policy.window_events + policy.baseline_events]
    ]
    return values[: policy.window_events], values[policy.window_events :]
