import dataclasses
import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from governance_site import policy_apis
from governance_site.fields import DateTimeField, FiniteFloatField, FractionField, validated
from governance_site.identifiers import DOMAIN, METRIC, DomainField, MetricField
from governance_site.openapi import document
from governance_site.parsers import NonStrictJSONParser
from governance_site.permissions import IsEngineOrOperator, IsOperator

from . import cascade, reasons, selectors, services
from .models import (
    CHOSEN_ACTIONS,
    MAX_EVENTS,
    MAX_FALSE_ALARM_EVENTS,
    MIN_FALSE_ALARM_EVENTS,
    Detector,
    PolicyKind,
    PolicyMode,
    RegressionState,
)
from .services import MAX_ABS_VALUE

MAX_BATCH = 10_000
OLDEST_EVENT = dt.timedelta(days=3650)  # the longest lookback_days a policy may have
CLOCK_SKEW = dt.timedelta(minutes=5)  # how far in the future an engine's occurred_at may be


class PolicyKeyInput(serializers.Serializer):
    domain = DomainField()
    metric = MetricField()


class StateOutput(serializers.ModelSerializer):
    domain = serializers.CharField(source="policy.domain")
    metric = serializers.CharField(source="policy.metric")
    enabled = serializers.BooleanField(source="policy.enabled")
    action = serializers.CharField(source="policy.action")
    max_drop_fraction = serializers.FloatField(source="policy.max_drop_fraction")
    detector = serializers.CharField(source="policy.detector")
    mode = serializers.CharField(source="policy.mode")
    action_taken = serializers.CharField(
        help_text="While triggered: THROTTLE, KILL_DOMAIN, KILL_SWITCH or DEMOTE (the cascade's last step); else empty."
    )
    would_have_taken = serializers.CharField(help_text="Dry run: the action a trip would have taken, else empty.")
    statistic = serializers.FloatField(allow_null=True, help_text="The sequential detector's CUSUM (now or at a trip).")
    threshold = serializers.FloatField(allow_null=True, help_text="Its decision interval (from false_alarm_events).")
    explanation = serializers.JSONField(
        help_text="The verdict's numbers: reference_n/mean, evidence_n/mean (since the CUSUM last stood at zero), "
        "judged, decidable, required_drop; at a trip also current_n/mean, drop, p_value, change_at, tripped_at."
    )

    class Meta:
        model = RegressionState
        fields = [
            "domain", "metric", "enabled", "action", "detector", "mode", "max_drop_fraction", "status",
            "triggered", "baseline_rate", "current_rate", "drop_fraction", "window_count", "baseline_count",
            "action_taken", "would_have_taken", "triggered_at", "evaluated_at", "evaluated_by", "epoch",
            "epoch_started_at", "statistic", "threshold", "late_events", "explanation",
            "escalated_at", "chain", "acknowledged_by",
        ]  # fmt: skip


class KpiOutput(serializers.Serializer):
    """Fields spelled out: a ModelSerializer would rebuild them from the model on every request of
    the busiest endpoint."""

    id = serializers.IntegerField()
    domain = serializers.CharField()
    metric = serializers.CharField()
    success = serializers.BooleanField(allow_null=True)
    value = serializers.FloatField(allow_null=True)
    actor = serializers.CharField(help_text="Who recorded it: the authenticated principal.")
    reported_by = serializers.CharField(help_text="The engine's own label (the `actor` it sent), unverified.")
    event_id = serializers.CharField(allow_null=True)
    model_version = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()


class KpiRecordOutput(KpiOutput):
    watched = serializers.BooleanField(help_text="False when no enabled tripwire will read this event.")
    warning = serializers.CharField(allow_null=True, help_text="Why not (the event is stored all the same).")


class KpiInput(PolicyKeyInput):
    success = serializers.BooleanField(required=False, allow_null=True)
    value = FiniteFloatField(required=False, allow_null=True, min_value=-MAX_ABS_VALUE, max_value=MAX_ABS_VALUE)
    actor = serializers.CharField(
        max_length=150,
        required=False,
        source="reported_by",
        help_text="The engine's own label for the reporting component, stored as `reported_by`; the event's "
        "`actor` is always the authenticated principal.",
    )
    event_id = serializers.CharField(max_length=128, required=False)
    model_version = serializers.CharField(max_length=64, required=False, help_text="The model that acted, if any.")
    occurred_at = DateTimeField(required=False)

    def validate_occurred_at(self, value):
        now = timezone.now()
        if value > now + CLOCK_SKEW:
            raise serializers.ValidationError("must not be in the future")
        if value < now - OLDEST_EVENT:
            raise serializers.ValidationError("must be within the longest lookback (3650 days)")
        return value

    def validate(self, attrs):
        if attrs.get("success") is None and attrs.get("value") is None:
            raise serializers.ValidationError({"success": "give success (true or false), value or both"})
        return attrs


class PlainKpiInput:
    """KpiInput's lean path for the busiest endpoints: the plain JSON shapes engines send (strings,
    booleans, numbers, ISO 8601 times with their offset), checked without DRF's per-field machinery
    and giving exactly what KpiInput's validated_data would. Anything else, and anything invalid,
    is declined (None): the caller then runs KpiInput, which answers with its usual errors.
    tests/regression/test_plain_input.py compares the two on many generated events."""

    TEXT_LIMITS = {"actor": 150, "event_id": 128}  # by input name (actor is stored as reported_by)
    FIELDS = KpiInput().fields

    @classmethod
    def event(cls, data) -> dict | None:
        if type(data) is not dict:
            return None
        try:
            event = {"domain": DOMAIN.normalize(data["domain"]), "metric": METRIC.normalize(data["metric"])}
        except (KeyError, ValueError):
            return None
        for name, value in data.items():
            if name in ("domain", "metric") or name not in cls.FIELDS:
                continue
            value = cls._value(name, value)
            if value is _DECLINED:
                return None
            event[cls.FIELDS[name].source] = value
        if event.get("success") is None and event.get("value") is None:
            return None
        return event

    @classmethod
    def events(cls, data) -> list[dict] | None:
        if type(data) is not list or not 0 < len(data) <= MAX_BATCH:
            return None
        events = []
        for item in data:
            event = cls.event(item)
            if event is None:
                return None
            events.append(event)
        return events

    @classmethod
    def _value(cls, name: str, value):
        if name == "success":
            return value if value is None or type(value) is bool else _DECLINED
        if name == "value":
            if value is None:
                return None
            if type(value) not in (int, float) or not -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:
                return _DECLINED  # `not <=` is also true for NaN
            return float(value)
        if name in cls.TEXT_LIMITS:
            text = value.strip() if type(value) is str and value.isascii() and "\x00" not in value else ""
            return text if 0 < len(text) <= cls.TEXT_LIMITS[name] else _DECLINED
        return cls._occurred_at(value)

    @classmethod
    def _occurred_at(cls, value):
        if type(value) is not str:
            return _DECLINED
        try:
            parsed = parse_datetime(value)
            if parsed is None or timezone.is_naive(parsed):
                return _DECLINED
            moment = cls.FIELDS["occurred_at"].enforce_timezone(parsed)
        except (ValueError, OverflowError, serializers.ValidationError):
            return _DECLINED
        now = timezone.now()
        return moment if now - OLDEST_EVENT <= moment <= now + CLOCK_SKEW else _DECLINED


_DECLINED = object()


class BatchOutput(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    warnings = serializers.ListField(
        child=serializers.CharField(), help_text="Events no enabled tripwire will read, per (domain, metric)."
    )
    duplicates = serializers.ListField(
        child=serializers.IntegerField(), help_text="Indexes of events whose event_id was already stored."
    )


class PolicyFields(serializers.Serializer):
    """A tripwire policy's editable fields, each optional: for an upsert, or a draft to backtest."""

    enabled = serializers.BooleanField(required=False)
    kind = serializers.ChoiceField(choices=PolicyKind.choices, required=False)
    window_events = serializers.IntegerField(min_value=1, max_value=MAX_EVENTS, required=False)
    baseline_events = serializers.IntegerField(min_value=1, max_value=MAX_EVENTS, required=False)
    lookback_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    max_drop_fraction = FractionField(required=False)
    action = serializers.ChoiceField(choices=CHOSEN_ACTIONS, required=False)
    heimdall_link = serializers.BooleanField(required=False)
    detector = serializers.ChoiceField(choices=Detector.choices, required=False)
    mode = serializers.ChoiceField(choices=PolicyMode.choices, required=False)
    false_alarm_events = serializers.IntegerField(
        min_value=MIN_FALSE_ALARM_EVENTS, max_value=MAX_FALSE_ALARM_EVENTS, required=False
    )
    stale_after_hours = serializers.IntegerField(min_value=1, max_value=24 * 3650, required=False)


class PolicyInput(PolicyKeyInput, PolicyFields, policy_apis.PolicyInput):
    pass


PolicyListApi, PolicyUpsertApi = policy_apis.views(services.POLICY, PolicyInput)


class CascadeInput(policy_apis.PolicyInput):
    """Each rule off while null."""

    max_throttled_domains = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10_000)
    stabilisation_seconds = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=30 * 24 * 3600
    )
    blast_radius = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10_000)


CascadeListApi, CascadeUpsertApi = policy_apis.views(cascade.CASCADE, CascadeInput)


class StateListApi(ListAPIView):
    serializer_class = StateOutput

    @document(
        responses={200: StateOutput(many=True)},
        errors=(400,),
        summary="Every tripwire's state: status, baseline vs current vs drop, the action taken",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.states()


class EvaluateApi(APIView):
    permission_classes = [IsEngineOrOperator]
    parser_classes = [NonStrictJSONParser, FormParser]

    class InputSerializer(PolicyKeyInput):
        actor = serializers.CharField(
            max_length=150,
            required=False,
            help_text="Accepted for the spec's callers; the audit records the authenticated user.",
        )

    @document(responses={200: StateOutput}, errors=(400, 404))
    def post(self, request):
        """Evaluate one tripwire now (engines and operators); JSON or form-encoded

        A drop strictly above max_drop_fraction on an enabled policy triggers its action once (THROTTLE:
        the domain's risk policy is disabled; KILL_SWITCH: the kill switch is engaged) and latches until
        an operator resets it. Status: ok, triggered, insufficient_data or disabled."""
        key = validated(self.InputSerializer, request.data)
        state = services.evaluate(domain=key["domain"], metric=key["metric"], actor=request.user)
        return Response(StateOutput(state).data)


class KpiRecordApi(APIView):
    permission_classes = [IsEngineOrOperator]

    @document(
        request=KpiInput,
        responses={201: KpiRecordOutput, 200: KpiRecordOutput},
        errors=(400, 422),
        summary="Record one KPI event (engines and operators)",
        description="201 with the stored event; the same event_id again: 200 with the original event, "
        f"nothing duplicated (422 `{reasons.EVENT_ID_REUSED}` if it describes another event). `watched` is "
        "false, with a `warning`, when no enabled tripwire reads the event (no policy for the pair, or not its "
        "kind's field).",
    )
    def post(self, request):
        fields = PlainKpiInput.event(request.data) or validated(KpiInput, request.data)
        warnings = selectors.kpi_warnings([fields])  # before the write: once it is committed, the answer says so
        event, created = services.record_kpi(**fields, actor=request.user)
        body = {**KpiOutput(event).data, "watched": not warnings, "warning": warnings[0] if warnings else None}
        return Response(body, status=status.HTTP_201_CREATED if created else 200)


class KpiBatchApi(APIView):
    permission_classes = [IsEngineOrOperator]

    @document(
        request=KpiInput(many=True),
        responses={201: BatchOutput},
        errors=(400, 422),
        summary=f"Record up to {MAX_BATCH:,} KPI events at once, all or nothing (engines and operators)",
        description="A bad item: 400 with `errors` keyed by the items' indexes, nothing stored. Events whose "
        "event_id is already stored are skipped and listed in `duplicates`.",
    )
    def post(self, request):
        events = PlainKpiInput.events(request.data)
        if events is None:
            data = KpiInput(data=request.data, many=True, max_length=MAX_BATCH, allow_empty=False)
            if not data.is_valid():
                errors = data.errors
                if isinstance(errors, list):
                    errors = {str(index): error for index, error in enumerate(errors) if error}
                raise ValidationError(errors)
            events = data.validated_data
        warnings = selectors.kpi_warnings(events)  # before the write: once it is committed, the answer says so
        result = services.record_kpi_batch(events=events, actor=request.user)
        body = {"received": len(events), **dataclasses.asdict(result), "warnings": warnings}
        return Response(BatchOutput(body).data, status=status.HTTP_201_CREATED)


class ReasonInput(PolicyKeyInput):
    reason = serializers.CharField(max_length=2000)


class PeriodReasonInput(ReasonInput):
    start = DateTimeField(required=False)
    end = DateTimeField(required=False)


class ResetOutput(StateOutput):
    warning = serializers.SerializerMethodField(help_text="Set when the window still breaches (status breaching).")

    class Meta(StateOutput.Meta):
        fields = [*StateOutput.Meta.fields, "warning"]

    def get_warning(self, state) -> str | None:
        return services.reset_warning(state)


def _state_change_api(name: str, service, input_serializer, output=StateOutput, **documented) -> type[APIView]:
    """An operators' view that calls `service` with its input and answers the tripwire's state."""

    class StateChangeApi(APIView):
        permission_classes = [IsOperator]
        InputSerializer = input_serializer

        @document(responses={200: output}, **documented)
        def post(self, request):
            state = service(**validated(self.InputSerializer, request.data), actor=request.user)
            return Response(output(state).data)

    StateChangeApi.__name__ = StateChangeApi.__qualname__ = name
    return StateChangeApi


ResetApi = _state_change_api(
    "ResetApi", services.reset, ReasonInput, ResetOutput, errors=(400, 404, 409),
    summary="Release a triggered tripwire's latch and start a new epoch, with a reason (operators); audited",
    description=f"409 `{reasons.NOT_TRIGGERED}` when it is not triggered. The action taken is not undone: "
    "re-enable the risk policy or release the kill switch on those levers. When the last evaluation still "
    "showed a drop past the threshold, the status is `breaching` and `warning` says so.",
)  # fmt: skip
RebaselineApi = _state_change_api(
    "RebaselineApi", services.rebaseline, PeriodReasonInput, errors=(400, 404),
    summary="Pin the sequential detector's reference to a good period (operators); audited",
    description="The Friday step: the events from `start` to `end` (default: the 7 days before now) become "
    "the reference of a new epoch, pinned; the events after them are judged against it. At least "
    "baseline_events events are needed (400 naming `start`). Undo with rebaseline/undo.",
)  # fmt: skip
RebaselineUndoApi = _state_change_api(
    "RebaselineUndoApi", services.undo_rebaseline, ReasonInput, errors=(400, 404, 409),
    summary="Undo the last rebaseline (operators); audited",
    description=f"409 `{reasons.NO_REBASELINE}` when there is none to undo.",
)  # fmt: skip
AcknowledgeApi = _state_change_api(
    "AcknowledgeApi", services.acknowledge, ReasonInput, errors=(400, 404, 409),
    summary="Acknowledge a tripwire's throttle, with a reason (operators); audited",
    description="An acknowledged throttle no longer counts against the cascade's `blast_radius`. "
    f"409 `{reasons.NOT_TRIGGERED}` unless the tripwire holds a throttle.",
)  # fmt: skip


class EpisodeOutput(serializers.Serializer):
    change_at = serializers.DateTimeField(help_text="The estimated start of the drop (the evidence's first event).")
    tripped_at = serializers.DateTimeField()
    reset_at = serializers.DateTimeField(
        allow_null=True, help_text="Where an operator would reset: the KPI back within half the required drop."
    )
    reference_rate = serializers.FloatField()
    current_rate = serializers.FloatField()
    drop = serializers.FloatField(allow_null=True)
    statistic = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)


class BacktestPolicyOutput(PolicyListApi.serializer_class):
    updated_at = serializers.DateTimeField(allow_null=True, help_text="null for a draft that is not saved.")
    version = serializers.SerializerMethodField(help_text="null for a draft that is not saved.")

    def get_version(self, policy) -> str | None:
        return super().get_version(policy) if policy.updated_at else None


class BacktestOutput(serializers.Serializer):
    policy = BacktestPolicyOutput(help_text="The policy replayed: the saved one, or the draft.")
    events = serializers.IntegerField()
    first_at = serializers.DateTimeField(allow_null=True)
    last_at = serializers.DateTimeField(allow_null=True)
    trips = serializers.SerializerMethodField()
    episodes = EpisodeOutput(many=True)
    false_trips = serializers.JSONField(
        help_text="Seeded simulation of stable streams like this history's first reference: streams, events, "
        "seed, tripped (streams with a trip), rate."
    )

    def get_trips(self, result) -> int:
        return len(result.episodes)


class BacktestApi(APIView):
    permission_classes = [IsOperator]

    class InputSerializer(PolicyKeyInput):
        start = DateTimeField(required=False)
        end = DateTimeField(required=False)
        draft = PolicyFields(required=False, help_text="Fields of a draft policy to replay instead of the saved one.")

    @document(responses={200: BacktestOutput}, errors=(400,))
    def post(self, request):
        """Replay a tripwire policy, saved or a draft, over the stored KPI history (operators)

        One pass over the policy's events from `start` to `end` (default: all of them): every trip with
        its estimated start and the reset an operator would make once the KPI is back, and an estimate
        of the false trips of these settings on stable data like this. Writes nothing; acts on nothing.
        The window rule is applied after every event (the most trips it can give)."""
        fields = dict(validated(self.InputSerializer, request.data))
        draft = fields.pop("draft", {})
        result = services.backtest(**fields, changes=draft)
        return Response(BacktestOutput(result).data)
