import datetime as dt

from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from governance_site.business_day import business_date
from governance_site.openapi import document

from .selectors import control_plane_review


class ReviewApi(APIView):
    """The control-plane review as JSON: the same content as the admin's landing page."""

    class FilterSerializer(serializers.Serializer):
        date = serializers.DateField(required=False, help_text="A business day (YYYY-MM-DD); default today.")

        def validate_date(self, value: dt.date) -> dt.date:
            if value > business_date():
                raise serializers.ValidationError("must not be after today")
            return value

    @document(
        responses={200: OpenApiTypes.OBJECT},
        errors=(400,),
        parameters=[FilterSerializer],
        tags=["review"],
        summary="The Monday control-plane review",
        description="Go-live state and kill switch (who, why); the day's risk ledger per domain with denials "
        "by reason; triggered tripwires with baseline, current and drop; the Heimdall scorecard (today "
        "against yesterday); the latest audit events.",
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return Response(control_plane_review(day=filters.validated_data.get("date")))
