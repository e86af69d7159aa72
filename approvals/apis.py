from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from governance_site.openapi import document
from governance_site.permissions import IsOperator

from . import selectors, services
from .models import STATES, ChangeRequest, Kind


class ChangeOutput(serializers.ModelSerializer):
    state = serializers.CharField(help_text="pending, expired, applied or rejected.")
    approvals = serializers.SerializerMethodField(help_text="Approvals of the current revision.")

    class Meta:
        model = ChangeRequest
        fields = [
            "id", "created_at", "kind", "lever", "target", "params", "diff", "reason", "requested_by", "revision",
            "state", "approvals", "expires_at", "decided_by", "decided_at", "decision_note", "emergency",
        ]  # fmt: skip

    def get_approvals(self, change) -> list[dict]:
        return [{"approver": a.approver, "note": a.note, "at": a.created_at} for a in change.current_approvals()]


class ChangeFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATES, required=False)


class ChangeListApi(ListAPIView):
    """GET: change requests, newest first (?status=); POST: request a loosening change (operators)."""

    serializer_class = ChangeOutput

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Kind.choices)
        params = serializers.DictField(required=False, help_text="tripwire.reset: {domain, metric}.")
        reason = serializers.CharField(max_length=2000)

    def get_permissions(self):
        return [IsOperator()] if self.request.method == "POST" else super().get_permissions()

    @document(responses={200: ChangeOutput(many=True)}, errors=(400,), parameters=[ChangeFilter], tags=["changes"],
              summary="Change requests, newest first")  # fmt: skip
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @document(
        request=InputSerializer, responses={201: ChangeOutput}, errors=(400, 404, 409), tags=["changes"],
    )  # fmt: skip
    def post(self, request):
        """Request a loosening change (operators)

        400 `not_loosening` when the change loosens nothing (tightening never waits: make it directly)."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        change = services.request_change(actor=request.user, **data.validated_data)
        return Response(ChangeOutput(change).data, status=201)

    def get_queryset(self):
        filters = ChangeFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.changes_in_state(filters.validated_data.get("status"))


class ChangeDetailApi(APIView):
    """GET one change request; PATCH (its requester): edit it, which voids its approvals."""

    class InputSerializer(serializers.Serializer):
        params = serializers.DictField(required=False)
        reason = serializers.CharField(max_length=2000, required=False)

    def get_permissions(self):
        return [IsOperator()] if self.request.method == "PATCH" else super().get_permissions()

    @document(responses={200: ChangeOutput}, errors=(404,), tags=["changes"], summary="One change request")
    def get(self, request, change_id: int):
        return Response(ChangeOutput(selectors.get_change(change_id)).data)

    @document(request=InputSerializer, responses={200: ChangeOutput}, errors=(400, 404, 409), tags=["changes"],
              summary="Edit a change request (its requester): a new revision, approvals voided")  # fmt: skip
    def patch(self, request, change_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        change = services.edit_change(change_id=change_id, actor=request.user, **data.validated_data)
        return Response(ChangeOutput(change).data)


class ChangeStepApi(APIView):
    """POST /changes/{id}/approve | reject | apply (operators)."""

    permission_classes = [IsOperator]
    step = ""

    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)
        emergency = serializers.BooleanField(
            required=False, default=False, help_text="apply only: the audited emergency bypass (needs its permission)."
        )

    @document(
        request=InputSerializer, responses={200: ChangeOutput}, errors=(400, 404, 409), tags=["changes"],
    )  # fmt: skip
    def post(self, request, change_id: int):
        """Approve, reject (a note is required) or apply a change request (operators)

        409 reasons: self_approval, already_approved, not_pending, expired, not_approved, stale_change,
        bypass_not_permitted."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        note, emergency = data.validated_data["note"], data.validated_data["emergency"]
        if self.step == "apply":
            change = services.apply(change_id=change_id, actor=request.user, emergency=emergency, note=note)
        else:
            change = getattr(services, self.step)(change_id=change_id, actor=request.user, note=note)
        return Response(ChangeOutput(change).data)
