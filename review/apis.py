from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from golive import reasons as golive_reasons
from golive.apis import GoLiveStateOutput
from governance_site.audit.apis import AuditEventOutput
from governance_site.fields import BusinessDayQuery, validated
from governance_site.openapi import document
from heimdall.apis import ScorecardRowOutput as HeimdallScorecardRow
from regression.models import PolicyAction, PolicyKind
from risk.apis import LedgerDomainOutput

from .selectors import control_plane_review


class ReviewApi(APIView):
    """The control-plane review as JSON: the same content as the admin's landing page."""

    class OutputSerializer(serializers.Serializer):
        class GoLiveOutput(GoLiveStateOutput):
            may_execute = serializers.BooleanField()
            blocked_reason = serializers.ChoiceField(
                choices=golive_reasons.REFUSALS, allow_null=True, help_text="null while production may execute."
            )

            class Meta(GoLiveStateOutput.Meta):
                fields = [*GoLiveStateOutput.Meta.fields, "may_execute", "blocked_reason"]

        class TripwireOutput(serializers.Serializer):
            id = serializers.IntegerField()
            domain = serializers.CharField()
            metric = serializers.CharField()
            kind = serializers.ChoiceField(choices=PolicyKind.choices)
            action = serializers.ChoiceField(choices=PolicyAction.choices)
            action_taken = serializers.CharField()
            would_have_taken = serializers.CharField(help_text="A dry-run tripwire: what it would have done.")
            baseline_rate = serializers.FloatField(allow_null=True)
            current_rate = serializers.FloatField(allow_null=True)
            drop_fraction = serializers.FloatField(allow_null=True)
            max_drop_fraction = serializers.FloatField()
            triggered_at = serializers.DateTimeField(allow_null=True)
            evaluated_at = serializers.DateTimeField(allow_null=True)

        class ScorecardRowOutput(HeimdallScorecardRow):
            dropped = serializers.BooleanField(help_text="Today's success rate is below yesterday's.")

        class AuditOutput(AuditEventOutput):
            class Meta(AuditEventOutput.Meta):
                fields = ["id", "created_at", "actor", "lever", "action", "object_repr", "reason"]

        date = serializers.DateField()
        time_zone = serializers.CharField()
        go_live = GoLiveOutput()
        risk_ledger = LedgerDomainOutput(many=True)
        triggered_tripwires = TripwireOutput(many=True)
        heimdall_scorecard = ScorecardRowOutput(many=True)
        recent_audit = AuditOutput(many=True)

    @document(
        responses={200: OutputSerializer},
        errors=(400,),
        parameters=[BusinessDayQuery],
        summary="The Monday control-plane review",
        description="Go-live state and kill switch (who, why); the day's risk ledger per domain with denials "
        "by reason; triggered tripwires with baseline, current and drop; the Heimdall scorecard (today "
        "against yesterday); the latest audit events.",
    )
    def get(self, request):
        filters = validated(BusinessDayQuery, request.query_params)
        review = control_plane_review(day=filters.get("date"))
        return Response(self.OutputSerializer(review).data)
