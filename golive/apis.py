from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

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
    @document(responses={200: GoLiveStateOutput}, tags=["go-live"], summary="The production state")
    def get(self, request):
        return Response(GoLiveStateOutput(services.get_state()).data)


class KillSwitchApi(APIView):
    permission_classes = [IsOperator]

    class InputSerializer(serializers.Serializer):
        engaged = serializers.BooleanField()
        reason = serializers.CharField(max_length=2000)

    @document(
        request=InputSerializer,
        responses={200: GoLiveStateOutput},
        errors=(400,),
        tags=["go-live"],
        summary="Engage or release the kill switch (operators)",
        description="Engaging also turns go-live off; releasing leaves go-live off.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        state = services.set_kill_switch(actor=request.user, **data.validated_data)
        return Response(GoLiveStateOutput(state).data)


class GoLiveEnableApi(APIView):
    permission_classes = [IsOperator]

    class InputSerializer(serializers.Serializer):
        enabled = serializers.BooleanField()
        reason = serializers.CharField(max_length=2000)

    @document(
        request=InputSerializer,
        responses={200: GoLiveStateOutput},
        errors=(400, 409),
        tags=["go-live"],
        summary="Enable or disable go-live (operators)",
        description="Enabling while the kill switch is engaged is a 409 with reason `kill_switch_engaged`.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        state = services.set_go_live(actor=request.user, **data.validated_data)
        return Response(GoLiveStateOutput(state).data)


class GoLiveCheckApi(APIView):
    """204 while production may execute, else 423 {"ok": false, "reason": ...} (nginx auth_request)."""

    throttle_classes = []  # the gate keeps answering under any flood

    @document(
        responses={204: None},
        errors=(423,),
        tags=["go-live"],
        summary="May production execute now?",
        description="204 while it may; else 423 with reason `kill_switch`, `go_live_disabled` or "
        "`state_unavailable` (the state cannot be read: fail closed).",
    )
    def get(self, request):
        decision = services.may_execute()
        return Response(status=204) if decision.ok else refusal(decision.reason)

    def state_unavailable_answer(self):
        # Authenticating the token needs the database too: when it is down, answer as the gate
        # does (fail closed), not with a 503 a proxy might not treat as "no".
        return refusal(reasons.STATE_UNAVAILABLE)
