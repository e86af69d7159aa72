"""The gate: the decisions production asks for before it acts (go-live check, reserve, Heimdall check)."""

from rest_framework.views import APIView


class GateApi(APIView):
    """A decision asked before production acts: never throttled (its answers keep coming under any
    flood), and when the database cannot be read it answers its fail-closed
    `state_unavailable_answer()` (governance_site.errors)."""

    throttle_classes = []
