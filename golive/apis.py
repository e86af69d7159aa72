from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from governance_site.fields import validated
from governance_site.gates import GateApi
from governance_site.identifiers import DomainField
from governance_site.openapi import document
from governance_site.permissions import IsEngineOrOperator, IsGovernanceReader, IsOperator

from . import reasons, services
from .middleware import refusal
from .models import EngineHeartbeat, GoLiveState, KillScope, ScopedKill


class ScopedKillOutput(serializers.ModelSerializer):
    class Meta:
        model = ScopedKill
        fields = ["scope", "target", "engaged", "reason", "changed_by", "updated_at"]


class GoLiveStateOutput(serializers.ModelSerializer):
    kills = serializers.SerializerMethodField(help_text="The scoped kill switches engaged now.")

    class Meta:
        model = GoLiveState
        fields = ["go_live_enabled", "kill_switch_engaged", "reason", "changed_by", "updated_at", "kills"]

    @extend_schema_field(ScopedKillOutput(many=True))
    def get_kills(self, state) -> list:
        return ScopedKillOutput(services.engaged_kills(), many=True).data


class GoLiveStateApi(APIView):
    @document(responses={200: GoLiveStateOutput}, summary="The production state, with the scoped kills engaged")
    def get(self, request):
        return Response(GoLiveStateOutput(services.get_state()).data)


class SwitchInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Required: recorded in the audit trail.")


class KillSwitchApi(APIView):
    permission_classes = [IsOperator]

    class InputSerializer(SwitchInput):
        engaged = serializers.BooleanField()
        scope = serializers.ChoiceField(choices=KillScope.values, default=KillScope.GLOBAL.value)
        target = serializers.CharField(
            required=False, max_length=150, help_text="The domain, engine (username) or model version; not for global."
        )

    @document(responses={200: GoLiveStateOutput}, errors=(400,))
    def post(self, request):
        """Engage or release a kill switch of any scope (operators)

        `scope` global (default), domain, engine or model_version, with its `target`. Engaging cancels
        the open reservations the scope covers; engaging the global one also turns go-live off.
        Releasing a scope releases that one only, never a wider one."""
        services.set_kill_switch(actor=request.user, **validated(self.InputSerializer, request.data))
        return Response(GoLiveStateOutput(services.get_state()).data)


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
    scope = serializers.CharField(allow_null=True, help_text="The refusing scope: `global`, `domain WHOLESALE`, ...")
    engaged_by = serializers.CharField(allow_null=True, help_text="Who or what engaged the refusing switch.")
    detail = serializers.CharField(help_text="The refusal in words: reason, scope, who and why.")


class CheckQuery(serializers.Serializer):
    domain = DomainField(required=False)
    engine = serializers.CharField(required=False, max_length=150, help_text="Default: the authenticated principal.")
    model_version = serializers.CharField(required=False, max_length=64)


class GoLiveCheckApi(GateApi):
    """204 while production may execute, else 423 {"ok": false, "reason": ...} (nginx auth_request)."""

    permission_classes = [IsGovernanceReader]  # any governance role may ask whether production may act

    @document(
        request=None,
        parameters=[CheckQuery],
        responses={204: None, 423: OpenApiResponse(RefusalBody, "Production may not execute now.")},
        errors=(400,),
        summary="May production execute now (for this domain, engine, model version)?",
        description="204 while it may; else 423 with the first reason that applies: "
        + ", ".join(f"`{reason}`" for reason in reasons.REFUSALS)
        + f" (`{reasons.STATE_UNAVAILABLE}`: the state cannot be read, fail closed). A kill switch refusal "
        "names its `scope` and who engaged it (`engaged_by`).",
    )
    def get(self, request):
        query = validated(CheckQuery, request.query_params)
        query.setdefault("engine", request.user.get_username())
        decision = services.may_execute(**query)
        return Response(status=204) if decision.ok else refusal(decision)

    def state_unavailable_answer(self):
        # Authenticating the token needs the database too: when it is down, answer as the gate
        # does (fail closed), not with a 503 a proxy might not treat as "no".
        return refusal(services.Decision(False, reasons.STATE_UNAVAILABLE, detail=reasons.STATE_UNAVAILABLE))


class HeartbeatApi(APIView):
    """An engine's heartbeat: the authenticated principal is alive."""

    permission_classes = [IsEngineOrOperator]

    class InputSerializer(serializers.Serializer):
        max_silence_seconds = serializers.IntegerField(
            required=False, min_value=1, max_value=24 * 3600, help_text="Allowed silence; default 30 (first beat)."
        )

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = EngineHeartbeat
            fields = ["engine", "max_silence_seconds", "last_beat_at", "lapsed_at"]

    @document(
        responses={200: OutputSerializer},
        errors=(400,),
        summary="Beat: the calling engine is alive (engines, operators)",
        description="The first beat registers the engine. Silent longer than `max_silence_seconds`, its open "
        f"reservations are cancelled (cancel-on-disconnect) and it is refused `{reasons.HEARTBEAT_MISSED}` "
        "until it beats again.",
    )
    def post(self, request):
        heartbeat = services.beat(actor=request.user, **validated(self.InputSerializer, request.data))
        return Response(self.OutputSerializer(heartbeat).data)
