from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from governance_site.permissions import IsOperator

from . import services
from .middleware import refusal
from .models import GoLiveState


class GoLiveStateOutput(serializers.ModelSerializer):
    class Meta:
        model = GoLiveState
        fields = ["go_live_enabled", "kill_switch_engaged", "reason", "changed_by", "updated_at"]


class GoLiveStateApi(APIView):
    def get(self, request):
        return Response(GoLiveStateOutput(services.get_state()).data)


class KillSwitchApi(APIView):
    permission_classes = [IsOperator]

    class InputSerializer(serializers.Serializer):
        engaged = serializers.BooleanField()
        reason = serializers.CharField(max_length=2000)

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

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        state = services.set_go_live(actor=request.user, **data.validated_data)
        return Response(GoLiveStateOutput(state).data)


class GoLiveCheckApi(APIView):
    """204 while production may execute, else 423 {"ok": false, "reason": ...} (nginx auth_request)."""

    def get(self, request):
        decision = services.may_execute()
        return Response(status=204) if decision.ok else refusal(decision.reason)
