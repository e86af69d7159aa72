from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from governance_site.openapi import document
from governance_site.permissions import IsOperator

from . import selectors, services
from .models import Alert, Severity


class AlertOutput(serializers.ModelSerializer):
    lever = serializers.CharField(help_text="golive, risk, heimdall or regression; empty for the alerts' own.")

    class Meta:
        model = Alert
        fields = [
            "id", "created_at", "event", "severity", "lever", "title", "object_type", "object_id", "object_repr",
            "actor", "reason", "requires_ack", "acknowledged_at", "acknowledged_by", "ack_note", "sends",
            "last_sent_at",
        ]  # fmt: skip


class AlertFilter(serializers.Serializer):
    unacknowledged = serializers.BooleanField(
        required=False, default=None, allow_null=True, help_text="true: only alerts still awaiting acknowledgement."
    )
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)


class AlertListApi(ListAPIView):
    serializer_class = AlertOutput

    @document(responses={200: AlertOutput(many=True)}, errors=(400,), parameters=[AlertFilter], tags=["alerts"])
    def get(self, request, *args, **kwargs):
        """Alerts, unacknowledged first

        Those awaiting acknowledgement first, then newest first; filters `unacknowledged` and `severity`."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = AlertFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = selectors.unacknowledged_first()
        if filters.validated_data.get("unacknowledged"):
            queryset = queryset.filter(requires_ack=True, acknowledged_at__isnull=True)
        if "severity" in filters.validated_data:
            queryset = queryset.filter(severity=filters.validated_data["severity"])
        return queryset


class AlertAcknowledgeApi(APIView):
    permission_classes = [IsOperator]

    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(max_length=2000, help_text="What you are doing about it; audited.")

    @document(request=InputSerializer, responses={200: AlertOutput}, errors=(400, 404, 409), tags=["alerts"])
    def post(self, request, alert_id: int):
        """Acknowledge an alert (operators)

        409 `already_acknowledged` or `no_acknowledgement_needed`. A triggered tripwire can be reset
        only once its alert is acknowledged."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = services.acknowledge(alert_id=alert_id, actor=request.user, **data.validated_data)
        return Response(AlertOutput(alert).data)
