from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from golive.reasons import STATE_UNAVAILABLE
from governance_site.fields import BusinessDayQuery, DomainField, FractionField
from governance_site.openapi import document
from governance_site.permissions import IsEngineOrOperator, IsOperator

from . import selectors, services
from .models import HeimdallPolicy, SandboxTrial

TAGS = ["heimdall"]
REASONS_HELP = (
    "null when eligible, else the first that applies: kill_switch, go_live_disabled, "
    "state_unavailable, no_policy, policy_disabled, confidence_below_min, insufficient_trials, "
    "success_rate_below_min."
)


class PolicyOutput(serializers.ModelSerializer):
    class Meta:
        model = HeimdallPolicy
        fields = ["domain", *services.POLICY_FIELDS, "changed_by", "updated_at"]


class PolicyListApi(ListAPIView):
    serializer_class = PolicyOutput

    @document(responses={200: PolicyOutput(many=True)}, tags=TAGS, summary="Every domain's Heimdall policy")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.policy_list()


class PolicyUpsertApi(APIView):
    permission_classes = [IsOperator]

    class InputSerializer(serializers.Serializer):
        domain = DomainField()
        enabled = serializers.BooleanField(required=False)
        min_confidence_prod = FractionField(required=False)
        min_sandbox_trials = serializers.IntegerField(required=False)
        min_success_rate = FractionField(required=False)
        trial_window_days = serializers.IntegerField(required=False)
        reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    @document(
        request=InputSerializer,
        responses={200: PolicyOutput, 201: PolicyOutput},
        errors=(400,),
        tags=TAGS,
        summary="Create (201) or change (200) a domain's policy (operators); audited",
        description="Settings left out keep their value (their default, for a new policy).",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        policy, created = services.upsert_policy(
            domain=changes.pop("domain"),
            reason=changes.pop("reason", ""),
            changes=changes,
            actor=request.user,
        )
        return Response(PolicyOutput(policy).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


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
        request=InputSerializer,
        responses={201: OutputSerializer},
        errors=(400,),
        tags=TAGS,
        summary="Record a sandbox trial (engines and operators)",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        trial = services.record_trial(actor=request.user, **data.validated_data)
        return Response(self.OutputSerializer(trial).data, status=status.HTTP_201_CREATED)


class CheckApi(APIView):
    """200 with {prod_eligible, reason, trials, success_rate}: a "no" is an answer, not an error."""

    permission_classes = [IsEngineOrOperator]
    throttle_classes = []  # the gate keeps answering under any flood

    class InputSerializer(serializers.Serializer):
        domain = DomainField()
        confidence = FractionField()
        model_version = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)

    class OutputSerializer(serializers.Serializer):
        prod_eligible = serializers.BooleanField()
        reason = serializers.CharField(allow_null=True, help_text=REASONS_HELP)
        trials = serializers.IntegerField(allow_null=True, help_text="In the policy window; null without one.")
        success_rate = serializers.FloatField(allow_null=True, help_text="0–1; null without trials.")

    @document(
        request=InputSerializer,
        responses={200: OutputSerializer},
        errors=(400,),
        tags=TAGS,
        summary="May this recommendation reach production? (engines and operators)",
        description="A no is a 200 with prod_eligible false and the reason. With model_version, only "
        "that version's sandbox trials count.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(self.OutputSerializer(services.check_prod_eligible(**data.validated_data)).data)

    def state_unavailable_answer(self):
        """The database cannot be read: not eligible (fail closed)."""
        return Response({"prod_eligible": False, "reason": STATE_UNAVAILABLE, "trials": None, "success_rate": None})


class ScorecardApi(APIView):
    """The scorecard of today's business day, or of `?date=YYYY-MM-DD` (not after today)."""

    FilterSerializer = BusinessDayQuery

    class OutputSerializer(serializers.Serializer):
        domain = serializers.CharField()
        trials_today = serializers.IntegerField()
        successes_today = serializers.IntegerField()
        success_rate_today = serializers.FloatField(allow_null=True)
        success_rate_yesterday = serializers.FloatField(allow_null=True)
        success_rate_change = serializers.FloatField(allow_null=True)
        trials_in_window = serializers.IntegerField(allow_null=True)
        success_rate_in_window = serializers.FloatField(allow_null=True)
        prod_eligible = serializers.BooleanField(help_text="Now, at the policy's minimum confidence.")
        reason = serializers.CharField(allow_null=True, help_text=REASONS_HELP)

    @document(
        responses={200: OutputSerializer(many=True)},
        errors=(400,),
        parameters=[FilterSerializer],
        tags=TAGS,
        summary="Per domain: today against yesterday, the policy window, eligibility now",
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = selectors.scorecard(day=filters.validated_data.get("date"))
        return Response(self.OutputSerializer(rows, many=True).data)
