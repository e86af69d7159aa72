from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from golive import reasons as golive_reasons
from golive.apis import GoLiveStateOutput
from governance_site.alerts.models import Alert
from governance_site.audit.apis import AuditEventOutput
from governance_site.business_day import business_date
from governance_site.fields import BusinessDayQuery, FiniteDecimalField
from governance_site.openapi import document
from governance_site.permissions import IsOperator
from heimdall.apis import ScorecardRowOutput as HeimdallScorecardRow
from regression.models import CHOSEN_ACTIONS, PolicyKind
from risk.apis import LedgerDomainOutput

from . import selectors, services
from .models import ReviewSignOff


def _day(**kwargs) -> serializers.DateField:
    return serializers.DateField(input_formats=["%Y-%m-%d"], **kwargs)


class PeriodQuery(serializers.Serializer):
    """`?date=` (one business day) or `?since=&until=` (business days, both included; `until`
    defaults to today); neither: since the last completed review, or the last 7 days."""

    date = _day(required=False, help_text="One business day (YYYY-MM-DD).")
    since = _day(required=False, help_text="The first business day (YYYY-MM-DD).")
    until = _day(required=False, help_text="The last business day (YYYY-MM-DD); default today.")

    validate_date = validate_since = validate_until = BusinessDayQuery.validate_date
    earliest = BusinessDayQuery.earliest

    def validate(self, attrs):
        if "date" in attrs and ({"since", "until"} & set(attrs)):
            raise serializers.ValidationError({"date": "give date, or since and until, not both"})
        if "until" in attrs and "since" not in attrs:
            raise serializers.ValidationError({"since": "required with until"})
        return attrs

    def period(self) -> selectors.Period:
        data = self.validated_data
        if "date" in data:
            return selectors.Period(data["date"], data["date"])
        if "since" not in data:
            return selectors.default_period()
        period = selectors.Period(data["since"], data.get("until") or business_date())
        if period.since > period.until:
            raise serializers.ValidationError({"since": "must not be after until"})
        if period.length > selectors.MAX_DAYS:
            raise serializers.ValidationError({"since": f"a period covers at most {selectors.MAX_DAYS} days"})
        return period


class SignOffOutput(serializers.ModelSerializer):
    class Meta:
        model = ReviewSignOff
        fields = ["id", "since", "until", "note", "signed_by", "signed_at"]


class ReviewApi(APIView):
    """The control-plane review as JSON: the same content as the admin's landing page."""

    class OutputSerializer(serializers.Serializer):
        class GoLiveOutput(GoLiveStateOutput):
            may_execute = serializers.BooleanField()
            blocked_reason = serializers.ChoiceField(
                choices=golive_reasons.REFUSALS, allow_null=True, help_text="null while production may execute."
            )

            unacknowledged_alert_id = serializers.IntegerField(
                allow_null=True, help_text="The kill switch's alert awaiting acknowledgement, if any."
            )

            class Meta(GoLiveStateOutput.Meta):
                fields = [*GoLiveStateOutput.Meta.fields, "may_execute", "blocked_reason", "unacknowledged_alert_id"]

        class TripwireOutput(serializers.Serializer):
            id = serializers.IntegerField()
            domain = serializers.CharField()
            metric = serializers.CharField()
            kind = serializers.ChoiceField(choices=PolicyKind.choices)
            action = serializers.ChoiceField(choices=CHOSEN_ACTIONS)
            action_taken = serializers.CharField()
            would_have_taken = serializers.CharField(help_text="A dry-run tripwire: what it would have done.")
            baseline_rate = serializers.FloatField(allow_null=True)
            current_rate = serializers.FloatField(allow_null=True)
            drop_fraction = serializers.FloatField(allow_null=True)
            max_drop_fraction = serializers.FloatField()
            triggered_at = serializers.DateTimeField(allow_null=True)
            evaluated_at = serializers.DateTimeField(allow_null=True)

        class TriggeredOutput(TripwireOutput):
            action_in_force = serializers.BooleanField(
                help_text="THROTTLE: the domain's risk policy is still disabled; KILL_SWITCH: still engaged."
            )
            lifted_by = serializers.CharField(allow_null=True, help_text="Who re-enabled or released it since.")
            lifted_at = serializers.DateTimeField(allow_null=True)
            unacknowledged_alert_id = serializers.IntegerField(
                allow_null=True, help_text="Its trigger's alert awaiting acknowledgement (these come first)."
            )

        class AlertOutput(serializers.ModelSerializer):
            class Meta:
                model = Alert
                fields = read_only_fields = selectors.ALERT_FIELDS

        class DriftingOutput(TripwireOutput):
            threshold_share = serializers.FloatField(help_text="drop_fraction / max_drop_fraction (1 fires).")
            drop_week_before = serializers.FloatField(allow_null=True, help_text="The drop 7 days earlier.")
            direction = serializers.ChoiceField(choices=["worsening", "improving", "steady", "new"])

        class ScorecardRowOutput(HeimdallScorecardRow):
            dropped = serializers.BooleanField(help_text="The last day's success rate is below the day before's.")

        class KpiCountOutput(serializers.Serializer):
            domain = serializers.CharField()
            metric = serializers.CharField()
            count = serializers.IntegerField()
            engines = serializers.ListField(child=serializers.CharField(), help_text="The actors that sent them.")

        class UnwatchedKpiOutput(KpiCountOutput):
            policy = serializers.ChoiceField(choices=["none", "disabled"])
            last_at = serializers.DateTimeField()

        class WrongFieldOutput(KpiCountOutput):
            kind = serializers.CharField()
            expected_field = serializers.CharField()

        class SilentOutput(serializers.Serializer):
            domain = serializers.CharField()
            metric = serializers.CharField()
            last_event_at = serializers.DateTimeField(allow_null=True)

        class UnwatchedTrialsOutput(serializers.Serializer):
            domain = serializers.CharField()
            count = serializers.IntegerField()
            engines = serializers.ListField(child=serializers.CharField())

        class TrendOutput(serializers.Serializer):
            class TripwireTrendOutput(serializers.Serializer):
                metric = serializers.CharField()
                kind = serializers.CharField()
                values = serializers.ListField(child=serializers.FloatField(allow_null=True))
                threshold = serializers.FloatField(allow_null=True)

            domain = serializers.CharField()
            approved = serializers.ListField(child=serializers.IntegerField())
            denied = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()))
            realized_pnl = serializers.ListField(child=FiniteDecimalField())
            max_daily_loss = FiniteDecimalField(allow_null=True)
            tripwires = TripwireTrendOutput(many=True)
            heimdall_success_rate = serializers.ListField(child=serializers.FloatField(allow_null=True))

        class AuditOutput(AuditEventOutput):
            class Meta(AuditEventOutput.Meta):
                fields = ["id", "created_at", "actor", "lever", "action", "object_repr", "reason"]

        since = serializers.DateField()
        until = serializers.DateField()
        date = serializers.DateField(help_text="The period's last business day (the scorecard's day).")
        time_zone = serializers.CharField()
        last_sign_off = SignOffOutput(allow_null=True)
        go_live = GoLiveOutput()
        risk_ledger = LedgerDomainOutput(many=True)
        triggered_tripwires = TriggeredOutput(many=True)
        unacknowledged_alerts = AlertOutput(many=True, help_text="Alerts awaiting acknowledgement, oldest first.")
        drifting_tripwires = DriftingOutput(many=True)
        heimdall_scorecard = ScorecardRowOutput(many=True)
        unwatched_kpis = UnwatchedKpiOutput(many=True)
        wrong_field_kpis = WrongFieldOutput(many=True)
        silent_tripwires = SilentOutput(many=True)
        unwatched_trials = UnwatchedTrialsOutput(many=True)
        trends = TrendOutput(many=True, help_text="Per domain, one value per business day since … until.")
        unexplained_changes = AuditOutput(many=True, help_text="The period's changes recorded without a reason.")
        audit_count = serializers.IntegerField(help_text="Audit events in the period.")
        recent_audit = AuditOutput(many=True)

    @document(responses={200: OutputSerializer}, errors=(400,), parameters=[PeriodQuery])
    def get(self, request):
        """The Monday control-plane review, over a period

        Go-live state and kill switch (who, why); the period's risk ledger per domain with denials by
        reason; triggered tripwires (unacknowledged first) and drifting ones; alerts awaiting
        acknowledgement; the Heimdall scorecard of the last day; KPI events nobody watches, events with
        the wrong field, silent tripwires, trials without a policy; trends per domain per day; the
        period's audit events."""
        query = PeriodQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        review = selectors.control_plane_review(period=query.period())
        return Response(self.OutputSerializer(review).data)


class SignOffInput(serializers.Serializer):
    since = _day(help_text="The first business day the review covered.")
    until = _day(help_text="The last business day the review covered.")
    note = serializers.CharField(max_length=2000)

    validate_since = validate_until = BusinessDayQuery.validate_date
    earliest = BusinessDayQuery.earliest


class SignOffApi(APIView):
    permission_classes = [IsOperator]

    @document(request=SignOffInput, responses={201: SignOffOutput}, errors=(400,))
    def post(self, request):
        """Mark the review of since … until done, with a note (operators); audited

        The next review's default period starts on `until`."""
        data = SignOffInput(data=request.data)
        data.is_valid(raise_exception=True)
        signed = services.sign_off(**data.validated_data, actor=request.user)
        return Response(SignOffOutput(signed).data, status=status.HTTP_201_CREATED)


class SignOffListApi(ListAPIView):
    serializer_class = SignOffOutput

    @document(responses={200: SignOffOutput(many=True)}, errors=(400,), summary="The completed reviews, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return ReviewSignOff.objects.order_by("-signed_at", "-id")
