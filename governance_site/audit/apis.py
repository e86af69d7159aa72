from rest_framework import serializers
from rest_framework.generics import ListAPIView

from governance_site.fields import validated
from governance_site.openapi import document

from .models import AuditEvent, Lever


class AuditEventOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "created_at", "actor", "lever", "object_type", "object_id", "object_repr",
            "action", "before", "after", "reason",
        ]  # fmt: skip


class AuditFilter(serializers.Serializer):
    lever = serializers.ChoiceField(choices=Lever.choices, required=False)
    actor = serializers.CharField(max_length=150, required=False)
    since = serializers.DateTimeField(required=False)
    unexplained = serializers.BooleanField(
        required=False, default=None, allow_null=True, help_text="true: only the changes recorded without a reason."
    )


class AuditListApi(ListAPIView):
    serializer_class = AuditEventOutput

    @document(responses={200: AuditEventOutput(many=True)}, errors=(400,), parameters=[AuditFilter])
    def get(self, request, *args, **kwargs):
        """The audit trail, newest first

        Filters `lever`, `actor`, `since` (ISO 8601 time) and `unexplained` (true: the changes recorded
        without a reason)."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = validated(AuditFilter, self.request.query_params)
        queryset = AuditEvent.objects.all()
        if "lever" in filters:
            queryset = queryset.filter(lever=filters["lever"])
        if filters["unexplained"] is not None:
            queryset = queryset.filter(reason="") if filters["unexplained"] else queryset.exclude(reason="")
        if "actor" in filters:
            queryset = queryset.filter(actor=filters["actor"])
        if "since" in filters:
            queryset = queryset.filter(created_at__gte=filters["since"])
        return queryset
