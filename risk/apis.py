"""The Risk Guard's API: parse, call a service or selector, shape. A denial is a 200 with ok: false."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from governance_site import policy_apis
from governance_site.fields import BusinessDayQuery, FiniteDecimalField, built_once, validated
from governance_site.gates import GateApi
from governance_site.identifiers import DomainField
from governance_site.openapi import document
from governance_site.permissions import IsEngineOrOperator

from . import reasons, selectors, services
from .models import Reservation, Status

MAX_ID = 2**63 - 1


@built_once  # settle and release answer with it
class EntryOutput(serializers.ModelSerializer):
    reservation_id = serializers.IntegerField(source="pk")

    class Meta:
        model = Reservation
        fields = [
            "reservation_id", "domain", "amount", "status", "reason", "detail", "realized_pnl", "idempotency_key",
            "ref", "model_version", "actor", "business_date", "created_at", "expires_at", "settled_at", "settled_by",
            "settled_after_cancel",
        ]  # fmt: skip


class ReservationIdInput(serializers.Serializer):
    reservation_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class PolicyInput(policy_apis.PolicyInput):
    """A cap of 0 allows nothing."""

    domain = DomainField()
    enabled = serializers.BooleanField(required=False)
    max_daily_loss = FiniteDecimalField(required=False)
    max_open_exposure = FiniteDecimalField(required=False)
    max_daily_actions = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    max_action_amount = FiniteDecimalField(
        required=False, allow_null=True, help_text="The one-action (fat-finger) limit; null removes it."
    )
    reservation_ttl_seconds = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    max_actions_per_second = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1)
    max_actions_per_minute = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1)
    max_engine_actions_per_minute = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**31 - 1
    )
    duplicate_window_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=86400)
    amount_collar_factor = FiniteDecimalField(required=False, allow_null=True, help_text="null removes the collar.")
    amount_collar_sample = serializers.IntegerField(required=False, min_value=1, max_value=1000)


PolicyListApi, PolicyUpsertApi = policy_apis.views(services.POLICY, PolicyInput)


class FirmPolicyInput(policy_apis.PolicyInput):
    """Caps across all domains together; null removes one."""

    max_open_exposure = FiniteDecimalField(required=False, allow_null=True)
    max_daily_loss = FiniteDecimalField(required=False, allow_null=True)


FirmPolicyListApi, FirmPolicyUpsertApi = policy_apis.views(services.FIRM_POLICY, FirmPolicyInput)


class ReserveApi(GateApi):
    class InputSerializer(serializers.Serializer):
        domain = DomainField()
        amount = FiniteDecimalField()
        idempotency_key = serializers.CharField(required=False, allow_null=True, max_length=255)
        ref = serializers.CharField(required=False, allow_null=True, max_length=255)
        model_version = serializers.CharField(required=False, allow_null=True, max_length=64)

    class OutputSerializer(serializers.ModelSerializer):
        reservation_id = serializers.IntegerField(
            source="pk", allow_null=True, help_text="Null only when the state cannot be read (`state_unavailable`)."
        )
        reason = serializers.SerializerMethodField()

        class Meta:
            model = Reservation
            fields = ["ok", "reason", "detail", "reservation_id", "status", "expires_at"]

        @extend_schema_field(serializers.ChoiceField(choices=reasons.ANSWER_REASONS, allow_null=True))
        def get_reason(self, entry) -> str | None:
            return entry.answer_reason

    @document(
        responses={200: OutputSerializer},
        errors=(400, 422),
        summary="Reserve exposure before a production action (engines, operators)",
        description="A denial is a 200 with `ok: false` and the first reason that applies, in this order: "
        + ", ".join(f"`{reason}`" for reason in reasons.DENIAL_REASONS)
        + ". A `kill_switch` denial's `detail` names the scope and who engaged it. `status` is the entry's: "
        "`RESERVED` (approved, open until `expires_at`) or `DENIED`. The same `(domain, idempotency_key)` answers "
        "the same reservation as it is now, never a fresh permission: a denial replays its reason; an approval is "
        "`ok: true` only while it is still open and production may execute, else `ok: false` with `status` "
        "(`RESERVED`, `SETTLED`, `RELEASED`, `EXPIRED`, `CANCELLED`) and the first reason that applies: "
        + ", ".join(f"`{reason}`" for reason in reasons.REPLAY_REFUSALS)
        + " (a cancelled one: the cancel's reason, `kill_switch` or `heartbeat_missed`, its `detail` naming the "
        "scope). Reused with another amount or ref it is a 422.",
    )
    def post(self, request):
        entry = services.reserve(actor=request.user, **validated(self.InputSerializer, request.data))
        return Response(self.OutputSerializer(entry).data)

    def state_unavailable_answer(self):
        """The database cannot be read: a denial (fail closed), with no reservation."""
        return Response({
            "ok": False, "reason": reasons.STATE_UNAVAILABLE, "detail": "The control plane's state cannot be read.",
            "reservation_id": None, "status": Status.DENIED, "expires_at": None,
        })  # fmt: skip


class SettleApi(APIView):
    permission_classes = [IsEngineOrOperator]

    class InputSerializer(ReservationIdInput):
        realized_pnl = FiniteDecimalField()

    @document(
        responses={200: EntryOutput},
        errors=(400, 404, 409),
        summary="Settle a reservation with its realized pnl (engines, operators)",
        description="Frees the exposure and books the pnl (negative is a loss) on the reservation's business "
        "day. The same settle again returns the same entry; any other change of a closed or expired "
        f"reservation is a 409 (`{reasons.RESERVATION_CLOSED}`, `{reasons.RESERVATION_EXPIRED}`). A cancelled "
        "reservation still takes its settle: the pnl is booked and the entry flagged `settled_after_cancel`. Only "
        "the principal that reserved it, or an operator, may settle it: anyone else is a 403 "
        f"`{reasons.NOT_RESERVATION_OWNER}`.",
    )
    def post(self, request):
        entry = services.settle(actor=request.user, **validated(self.InputSerializer, request.data))
        return Response(EntryOutput(entry).data)


class ReleaseApi(APIView):
    permission_classes = [IsEngineOrOperator]

    @document(
        request=ReservationIdInput,
        responses={200: EntryOutput},
        errors=(400, 404, 409),
        summary="Release a reservation: the action did not happen (engines, operators)",
        description="Frees the exposure with no pnl. Releasing again returns the same entry. Only the "
        "principal that reserved it, or an operator, may release it: anyone else is a 403 "
        f"`{reasons.NOT_RESERVATION_OWNER}`.",
    )
    def post(self, request):
        entry = services.release(actor=request.user, **validated(ReservationIdInput, request.data))
        return Response(EntryOutput(entry).data)


class LedgerDomainOutput(serializers.Serializer):
    """One domain's day in the ledger (also in the control-plane review)."""

    domain = serializers.CharField()
    approved_count = serializers.IntegerField()
    denied_count = serializers.IntegerField()
    denial_count_by_reason = serializers.DictField(
        child=serializers.IntegerField(), help_text="Keyed by reason: " + ", ".join(reasons.DENIAL_REASONS)
    )
    denied_ids = serializers.ListField(child=serializers.IntegerField())
    open_exposure = serializers.DecimalField(max_digits=20, decimal_places=4)
    settled_count = serializers.IntegerField()
    released_count = serializers.IntegerField()
    expired_count = serializers.IntegerField()
    cancelled_count = serializers.IntegerField()
    realized_pnl = serializers.DecimalField(max_digits=20, decimal_places=4)


class LedgerApi(APIView):
    """The ledger of today's business day, or of `?date=YYYY-MM-DD`."""

    FilterSerializer = BusinessDayQuery

    class OutputSerializer(serializers.Serializer):
        date = serializers.DateField()
        domains = LedgerDomainOutput(many=True)

    @document(request=None, parameters=[FilterSerializer], responses={200: OutputSerializer}, errors=(400,))
    def get(self, request):
        """The ledger of a business day, per domain

        Today in GOVERNANCE_TIME_ZONE, or `?date=YYYY-MM-DD`: approved, denied (by reason, with the
        denied entries' ids), open exposure, settled, released and expired counts, realized pnl."""
        filters = validated(self.FilterSerializer, request.query_params)
        ledger = selectors.ledger(day=filters.get("date"))
        return Response(self.OutputSerializer(ledger).data)
