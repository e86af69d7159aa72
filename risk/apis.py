"""The Risk Guard's API: parse, call a service or selector, shape. A denial is a 200 with ok: false."""

from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from governance_site.fields import BusinessDayQuery, DomainField, FiniteDecimalField
from governance_site.openapi import document
from governance_site.permissions import IsEngineOrOperator, IsOperator

from . import reasons, selectors, services
from .models import Reservation, RiskPolicy

MAX_ID = 2**63 - 1
TAGS = ["risk"]


class PolicyOutput(serializers.ModelSerializer):
    class Meta:
        model = RiskPolicy
        fields = ["domain", *services.POLICY_FIELDS, "changed_by", "updated_at"]


class EntryOutput(serializers.ModelSerializer):
    reservation_id = serializers.IntegerField(source="pk")

    class Meta:
        model = Reservation
        fields = [
            "reservation_id", "domain", "amount", "status", "reason", "realized_pnl", "idempotency_key",
            "ref", "actor", "business_date", "created_at", "expires_at", "settled_at", "settled_by",
        ]  # fmt: skip


class ReservationIdInput(serializers.Serializer):
    reservation_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class PolicyListApi(ListAPIView):
    queryset = RiskPolicy.objects.all()
    serializer_class = PolicyOutput

    @document(responses={200: PolicyOutput(many=True)}, tags=TAGS, summary="Every domain's risk policy")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PolicyUpsertApi(APIView):
    """Create a domain's policy or change any subset of its fields."""

    permission_classes = [IsOperator]

    class InputSerializer(serializers.Serializer):
        domain = DomainField()
        enabled = serializers.BooleanField(required=False)
        max_daily_loss = FiniteDecimalField(required=False)
        max_open_exposure = FiniteDecimalField(required=False)
        max_daily_actions = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
        max_action_amount = FiniteDecimalField(required=False, allow_null=True)
        reservation_ttl_seconds = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    @document(
        request=InputSerializer,
        responses={200: PolicyOutput},
        errors=(400,),
        tags=TAGS,
        summary="Create or change a domain's risk policy (operators)",
        description="Give `domain` and any subset of the policy fields; the change is audited with "
        "`reason`. A cap of 0 allows nothing; `max_action_amount: null` removes the one-action limit.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        domain, reason = changes.pop("domain"), changes.pop("reason", "")
        policy = services.upsert_policy(domain=domain, changes=changes, actor=request.user, reason=reason)
        return Response(PolicyOutput(policy).data)


class ReserveApi(APIView):
    permission_classes = [IsEngineOrOperator]
    throttle_classes = []  # the gate keeps answering under any flood

    class InputSerializer(serializers.Serializer):
        domain = DomainField()
        amount = FiniteDecimalField()
        idempotency_key = serializers.CharField(required=False, allow_null=True, max_length=255)
        ref = serializers.CharField(required=False, allow_null=True, max_length=255)

    class OutputSerializer(serializers.ModelSerializer):
        reservation_id = serializers.IntegerField(
            source="pk", allow_null=True, help_text="Null only when the state cannot be read (`state_unavailable`)."
        )
        reason = serializers.SerializerMethodField()

        class Meta:
            model = Reservation
            fields = ["ok", "reason", "reservation_id", "expires_at"]

        def get_reason(self, entry) -> str | None:
            return entry.reason or None

    @document(
        request=InputSerializer,
        responses={200: OutputSerializer},
        errors=(400, 422),
        tags=TAGS,
        summary="Reserve exposure before a production action (engines, operators)",
        description="A denial is a 200 with `ok: false` and the first reason that applies, in this order: "
        + ", ".join(f"`{reason}`" for reason in reasons.DENIAL_REASONS)
        + ". The same `(domain, idempotency_key)` returns the original decision; reused with another "
        "amount or ref it is a 422.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.reserve(actor=request.user, **data.validated_data)
        return Response(self.OutputSerializer(entry).data)

    def state_unavailable_answer(self):
        """The database cannot be read: a denial (fail closed), with no reservation."""
        return Response({"ok": False, "reason": reasons.STATE_UNAVAILABLE, "reservation_id": None, "expires_at": None})


class SettleApi(APIView):
    permission_classes = [IsEngineOrOperator]

    class InputSerializer(ReservationIdInput):
        realized_pnl = FiniteDecimalField()

    @document(
        request=InputSerializer,
        responses={200: EntryOutput},
        errors=(400, 404, 409),
        tags=TAGS,
        summary="Settle a reservation with its realized pnl (engines, operators)",
        description="Frees the exposure and books the pnl (negative is a loss) on the reservation's business "
        "day. The same settle again returns the same entry; any other change of a closed or expired "
        "reservation is a 409 (`reservation_closed`, `reservation_expired`).",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.settle(actor=request.user, **data.validated_data)
        return Response(EntryOutput(entry).data)


class ReleaseApi(APIView):
    permission_classes = [IsEngineOrOperator]

    @document(
        request=ReservationIdInput,
        responses={200: EntryOutput},
        errors=(400, 404, 409),
        tags=TAGS,
        summary="Release a reservation: the action did not happen (engines, operators)",
        description="Frees the exposure with no pnl. Releasing again returns the same entry.",
    )
    def post(self, request):
        data = ReservationIdInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.release(actor=request.user, **data.validated_data)
        return Response(EntryOutput(entry).data)


class LedgerApi(APIView):
    """The ledger of today's business day, or of `?date=YYYY-MM-DD`."""

    FilterSerializer = BusinessDayQuery

    class OutputSerializer(serializers.Serializer):
        class DomainOutput(serializers.Serializer):
            domain = serializers.CharField()
            approved_count = serializers.IntegerField()
            denied_count = serializers.IntegerField()
            denial_count_by_reason = serializers.DictField(child=serializers.IntegerField())
            denied_ids = serializers.ListField(child=serializers.IntegerField())
            open_exposure = serializers.DecimalField(max_digits=20, decimal_places=4)
            settled_count = serializers.IntegerField()
            released_count = serializers.IntegerField()
            expired_count = serializers.IntegerField()
            realized_pnl = serializers.DecimalField(max_digits=20, decimal_places=4)

        date = serializers.DateField()
        domains = DomainOutput(many=True)

    @document(
        request=None,
        parameters=[FilterSerializer],
        responses={200: OutputSerializer},
        errors=(400,),
        tags=TAGS,
        summary="The ledger of a business day, per domain",
        description="Today in GOVERNANCE_TIME_ZONE, or `?date=YYYY-MM-DD`: approved, denied (by reason, with "
        "the denied entries' ids), open exposure, settled, released and expired counts, realized pnl.",
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        ledger = selectors.ledger(day=filters.validated_data.get("date"))
        return Response(self.OutputSerializer(ledger).data)
