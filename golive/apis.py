from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from governance_site.fields import validated
from governance_site.openapi import document
from governance_site.permissions import IsOperator

from . import reasons, services
from .middleware import refusal
from .models import GoLiveState


class GoLiveStateOutput(serializers.ModelSerializer):
    class Meta:
        model = GoLiveState
        fields = ["go_live_enabled", "kill_switch_engaged", "reason", "changed_by", "updated_at"]


class GoLiveStateApi(APIView):
    @document(responses={200: GoLiveStateOutput}, summary="The production state")
    def get(self, request):
        return Response(GoLiveStateOutput(services.get_state()).data)


class SwitchInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Required: recorded in the audit trail.")


class KillSwitchApi(APIView):
    permission_classes = [IsOperator]

    class InputSerializer(SwitchInput):
        engaged = serializers.BooleanField()

    @document(
        responses={200: GoLiveStateOutput},
        errors=(400,),
        summary="Engage or release the kill switch (operators)",
        description="Engaging also turns go-live off; releasing leaves go-live off.",
    )
    def post(self, request):
        state = services.set_kill_switch(actor=request.user, **validated(self.InputSerializer, request.data))
        return Response(GoLiveStateOutput(state).data)


class GoLiveEnableApi(APIView):
    permission_classes = [IsOperator]

    class InputSerializer(SwitchInput):
        enabled = serializers.BooleanField()

    @document(
        responses={200: GoLiveStateOutput},
        errors=(400, 409),
        summary="Enable or disable go-live (operators)",
        description=f"Enabling while the kill switch is engaged is a 409 with reason `{reasons.KILL_SWITCH_ENGAGED}`.",
    )
    def post(self, request):
        state = services.set_go_live(actor=request.user, **validated(self.InputSerializer, request.data))
        return Response(GoLiveStateOutput(state).data)


class RefusalBody(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Always false.")
    reason = serializers.ChoiceField(choices=reasons.REFUSALS, help_text="Why production may not execute now.")


class GoLiveCheckApi(APIView):
    """204 while production may execute, else 423 {"ok": false, "reason": ...} (nginx auth_request)."""

    throttle_classes = []  # the gate keeps answering under any flood

    @document(
        responses={204: None, 423: OpenApiResponse(RefusalBody, "Production may not execute now.")},
        summary="May production execute now?",
        description=f"204 while it may; else 423 with reason `{reasons.KILL_SWITCH}`, `{reasons.GO_LIVE_DISABLED}` "
        f"or `{reasons.STATE_UNAVAILABLE}` (the state cannot be read: fail closed).",
    )
    def get(self, request):
        decision = services.may_execute()
        return Response(status=204) if decision.ok else refusal(decision.reason)

    def state_unavailable_answer(self):
        # Authenticating the token needs the database too: when it is down, answer as the gate
        # does (fail closed), not with a 503 a proxy might not treat as "no".
        return refusal(reasons.STATE_UNAVAILABLE)
