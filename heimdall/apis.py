from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from golive.reasons import STATE_UNAVAILABLE
from governance_site import policy_apis
from governance_site.fields import BusinessDayQuery, FractionField, validated
from governance_site.gates import GateApi
from governance_site.identifiers import DomainField
from governance_site.openapi import document
from governance_site.permissions import IsEngineOrOperator

from . import reasons, selectors, services
from .models import SandboxTrial


def eligibility_reason() -> serializers.ChoiceField:
    """The reason of a "no", an enum in the schema: null when eligible, else the first that applies."""
    return serializers.ChoiceField(
        choices=reasons.ELIGIBILITY_REASONS,
        allow_null=True,
        help_text="null when eligible, else the first that applies: " + ", ".join(reasons.ELIGIBILITY_REASONS),
    )


class PolicyInput(policy_apis.PolicyInput):
    domain = DomainField()
    enabled = serializers.BooleanField(required=False)
    min_confidence_prod = FractionField(required=False)
    min_sandbox_trials = serializers.IntegerField(required=False)
    min_success_rate = FractionField(required=False)
    trial_window_days = serializers.IntegerField(required=False)


PolicyListApi, PolicyUpsertApi = policy_apis.views(services.POLICY, PolicyInput)


class TrialRecordApi(APIView):
    permission_classes = [IsEngineOrOperator]

    class InputSerializer(serializers.Serializer):
        domain = DomainField()
        confidence = FractionField()
        success = serializers.BooleanField()
        model_version = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
        recommendation_ref = serializers.CharField(max_length=128, required=False, allow_blank=True, allow_null=True)

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = SandboxTrial
            fields = [
                "id", "domain", "model_version", "recommendation_ref", "confidence", "success",
                "actor", "created_at",
            ]  # fmt: skip

    @document(
        responses={201: OutputSerializer}, errors=(400,), summary="Record a sandbox trial (engines and operators)"
    )
    def post(self, request):
        trial = services.record_trial(actor=request.user, **validated(self.InputSerializer, request.data))
        return Response(self.OutputSerializer(trial).data, status=status.HTTP_201_CREATED)


class CheckApi(GateApi):
    """200 with {prod_eligible, reason, trials, success_rate}: a "no" is an answer, not an error."""

    class InputSerializer(serializers.Serializer):
        domain = DomainField()
        confidence = FractionField()
        model_version = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)

    class OutputSerializer(serializers.Serializer):
        prod_eligible = serializers.BooleanField()
        reason = eligibility_reason()
        trials = serializers.IntegerField(allow_null=True, help_text="In the policy window; null without one.")
        success_rate = serializers.FloatField(allow_null=True, help_text="0–1; null without trials.")
        detail = serializers.CharField(
            allow_null=True, help_text="A kill switch's scope and who engaged it, or the demotion; else null."
        )

    @document(responses={200: OutputSerializer}, errors=(400,))
    def post(self, request):
        """May this recommendation reach production? (engines and operators)

        A no is a 200 with prod_eligible false and the reason. With model_version, only that version's
        sandbox trials count (after its demotion, for a version a tripwire demoted). Kill switches of
        the domain, of the calling engine and of the model version refuse too."""
        data = validated(self.InputSerializer, request.data)
        eligibility = services.check_prod_eligible(engine=request.user.get_username(), **data)
        return Response(self.OutputSerializer(eligibility).data)

    def state_unavailable_answer(self):
        """The database cannot be read: not eligible (fail closed)."""
        return Response({"prod_eligible": False, "reason": STATE_UNAVAILABLE, "trials": None, "success_rate": None})


class ScorecardRowOutput(serializers.Serializer):
    """One domain's row of the scorecard (also in the control-plane review)."""

    domain = serializers.CharField()
    trials_today = serializers.IntegerField()
    successes_today = serializers.IntegerField()
    success_rate_today = serializers.FloatField(allow_null=True)
    success_rate_yesterday = serializers.FloatField(allow_null=True)
    success_rate_change = serializers.FloatField(
        allow_null=True, help_text="Today's rate minus yesterday's; null unless both days have trials."
    )
    trials_in_window = serializers.IntegerField(allow_null=True, help_text="In the policy window; null without one.")
    success_rate_in_window = serializers.FloatField(
        allow_null=True, help_text="null without a policy or trials in its window."
    )
    prod_eligible = serializers.BooleanField(help_text="Now, at the policy's minimum confidence.")
    reason = eligibility_reason()


class ScorecardApi(APIView):
    """The scorecard of today's business day, or of `?date=YYYY-MM-DD` (not after today)."""

    FilterSerializer = BusinessDayQuery
    OutputSerializer = ScorecardRowOutput

    @document(
        responses={200: OutputSerializer(many=True)},
        errors=(400,),
        parameters=[FilterSerializer],
        summary="Per domain: today against yesterday, the policy window, eligibility now",
    )
    def get(self, request):
        filters = validated(self.FilterSerializer, request.query_params)
        rows = selectors.scorecard(day=filters.get("date"))
        return Response(self.OutputSerializer(rows, many=True).data)
