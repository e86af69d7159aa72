"""The gate: the decisions production asks for before it acts (go-live check, reserve, Heimdall check)."""

from rest_framework.views import APIView

from .permissions import IsEngineOrOperator


class GateApi(APIView):
    """A decision asked before production acts: engines (and operators) ask; never throttled (its
    answers keep coming under any flood); when the database cannot be read it answers its
    fail-closed `state_unavailable_answer()` (governance_site.errors)."""

    permission_classes = [IsEngineOrOperator]
    throttle_classes = []
