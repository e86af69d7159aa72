"""The KPI name rule, shared by the API, the admin and the command: `Contract_Rate` is `contract_rate`."""

import re

from rest_framework import serializers

from .models import METRIC_RE, METRIC_RULE

_METRIC = re.compile(METRIC_RE)


def normalize_metric(value) -> str:
    """Lower-case a metric name and check it, raising ValueError with the rule."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string of {METRIC_RULE}")
    metric = value.strip().lower()
    if not _METRIC.match(metric):
        raise ValueError(f"must be {METRIC_RULE}")
    return metric


class MetricField(serializers.CharField):
    """A KPI name; anything off the rule is a 400 naming the field."""

    def to_internal_value(self, data):
        try:
            return normalize_metric(super().to_internal_value(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
