import dataclasses
import datetime as dt
import re

from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from governance_site.fields import DomainField, FiniteFloatField, FractionField
from governance_site.permissions import IsEngineOrOperator, IsOperator

from . import selectors, services
from .models import (
    MAX_EVENTS,
    METRIC_RE,
    METRIC_RULE,
    KpiEvent,
    PolicyAction,
    PolicyKind,
    RegressionPolicy,
    RegressionState,
)

MAX_BATCH = 10_000
MAX_ABS_VALUE = 1e15  # keeps every mean and drop of the stored values finite
CLOCK_SKEW = dt.timedelta(minutes=5)  # how far in the future an engine's occurred_at may be
_METRIC = re.compile(METRIC_RE)


class MetricField(serializers.CharField):
    """A KPI name: `Contract_Rate` becomes `contract_rate`; anything off the rule is a 400."""

    def to_internal_value(self, data):
        metric = super().to_internal_value(data).lower()
        if not _METRIC.match(metric):
            raise serializers.ValidationError(f"must be {METRIC_RULE}")
        return metric


class PolicyKeyInput(serializers.Serializer):
    domain = DomainField()
    metric = MetricField()


class PolicyOutput(serializers.ModelSerializer):
    class Meta:
        model = RegressionPolicy
        fields = [
            "domain", "metric", "enabled", "kind", "window_events", "baseline_events",
            "lookback_days", "max_drop_fraction", "action", "changed_by", "updated_at",
        ]  # fmt: skip


class StateOutput(serializers.ModelSerializer):
    domain = serializers.CharField(source="policy.domain")
    metric = serializers.CharField(source="policy.metric")
    enabled = serializers.BooleanField(source="policy.enabled")
    action = serializers.CharField(source="policy.action")
    max_drop_fraction = serializers.FloatField(source="policy.max_drop_fraction")

    class Meta:
        model = RegressionState
        fields = [
            "domain", "metric", "enabled", "action", "max_drop_fraction", "status", "triggered",
            "baseline_rate", "current_rate", "drop_fraction", "window_count", "baseline_count",
            "action_taken", "triggered_at", "evaluated_at", "evaluated_by",
        ]  # fmt: skip


class KpiOutput(serializers.ModelSerializer):
    class Meta:
        model = KpiEvent
        fields = [
            "id", "domain", "metric", "success", "value", "actor", "event_id", "occurred_at", "created_at",
        ]  # fmt: skip


class KpiInput(PolicyKeyInput):
    success = serializers.BooleanField(required=False, allow_null=True)
    value = FiniteFloatField(required=False, allow_null=True, min_value=-MAX_ABS_VALUE, max_value=MAX_ABS_VALUE)
    actor = serializers.CharField(max_length=150, required=False)
    event_id = serializers.CharField(max_length=128, required=False)
    occurred_at = serializers.DateTimeField(required=False)

    def validate_occurred_at(self, value):
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("must not be in the future")
        return value

    def validate(self, attrs):
        if attrs.get("success") is None and attrs.get("value") is None:
            raise serializers.ValidationError({"success": "give success (true or false), value or both"})
        return attrs


class PolicyListApi(ListAPIView):
    serializer_class = PolicyOutput

    def get_queryset(self):
        return selectors.policies()


class PolicyUpsertApi(APIView):
    """Create or change the (domain, metric) policy; fields left out keep their value (JSON only,
    so that a form could never turn `enabled` off by leaving it out)."""

    permission_classes = [IsOperator]
    parser_classes = [JSONParser]

    class InputSerializer(PolicyKeyInput):
        enabled = serializers.BooleanField(required=False)
        kind = serializers.ChoiceField(choices=PolicyKind.choices, required=False)
        window_events = serializers.IntegerField(min_value=1, max_value=MAX_EVENTS, required=False)
        baseline_events = serializers.IntegerField(min_value=1, max_value=MAX_EVENTS, required=False)
        lookback_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
        max_drop_fraction = FractionField(required=False)
        action = serializers.ChoiceField(choices=PolicyAction.choices, required=False)
        reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        domain, metric, reason = changes.pop("domain"), changes.pop("metric"), changes.pop("reason", "")
        policy, created = services.upsert_policy(
            domain=domain, metric=metric, changes=changes, reason=reason, actor=request.user
        )
        return Response(PolicyOutput(policy).data, status=status.HTTP_201_CREATED if created else 200)


class StateListApi(ListAPIView):
    serializer_class = StateOutput

    def get_queryset(self):
        return selectors.states()


class EvaluateApi(APIView):
    """Evaluate one policy now; JSON or form-encoded. The audit actor is the authenticated user;
    `actor` is accepted from the spec's callers and not trusted as an identity."""

    permission_classes = [IsEngineOrOperator]

    class InputSerializer(PolicyKeyInput):
        actor = serializers.CharField(max_length=150, required=False)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = data.validated_data
        state = services.evaluate(domain=key["domain"], metric=key["metric"], actor=request.user)
        return Response(StateOutput(state).data)


class KpiRecordApi(APIView):
    """One KPI event: 201 with the stored event, or 200 with the original for a known event_id."""

    permission_classes = [IsEngineOrOperator]
    parser_classes = [JSONParser]

    def post(self, request):
        data = KpiInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        actor = fields.pop("actor", None) or request.user
        event, created = services.record_kpi(**fields, actor=actor)
        return Response(KpiOutput(event).data, status=status.HTTP_201_CREATED if created else 200)


class KpiBatchApi(APIView):
    """A JSON array of up to 10,000 KPI events, stored all together or not at all.

    Bad items: 400 with `errors` keyed by the items' indexes. Answer: 201 with the number stored
    and the indexes of events whose event_id was already stored (skipped).
    """

    permission_classes = [IsEngineOrOperator]
    parser_classes = [JSONParser]

    def post(self, request):
        data = KpiInput(data=request.data, many=True, max_length=MAX_BATCH, allow_empty=False)
        if not data.is_valid():
            errors = data.errors
            if isinstance(errors, list):
                errors = {str(index): error for index, error in enumerate(errors) if error}
            raise ValidationError(errors)
        result = services.record_kpi_batch(events=data.validated_data, actor=request.user)
        body = {"received": len(data.validated_data), **dataclasses.asdict(result)}
        return Response(body, status=status.HTTP_201_CREATED)


class ResetApi(APIView):
    permission_classes = [IsOperator]
    parser_classes = [JSONParser]

    class InputSerializer(PolicyKeyInput):
        reason = serializers.CharField(max_length=2000)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        state = services.reset(**data.validated_data, actor=request.user)
        return Response(StateOutput(state).data)
