"""The KPI name rule, shared by the API, the admin and the command: `Contract_Rate` is `contract_rate`."""

import re

from rest_framework import serializers

from .models import METRIC_RULE

_METRIC_INPUT = re.compile(r"\A[A-Za-z0-9_]{1,64}\Z")  # ASCII only, before lower-casing


def normalize_metric(value) -> str:
    """Lower-case a metric name and check it, raising ValueError with the rule."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string of {METRIC_RULE}")
    if not _METRIC_INPUT.match(value):
        raise ValueError(f"must be {METRIC_RULE}")
    return value.lower()


class MetricField(serializers.CharField):
    """A KPI name; anything off the rule is a 400 naming the field."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return normalize_metric(super().to_internal_value(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
