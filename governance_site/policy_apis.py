"""The list and upsert API of every lever's policy. A lever's apis.py declares only what differs:

    class PolicyListApi(policy_apis.PolicyListApi):
        queryset = RiskPolicy.objects.all()
        serializer_class = PolicyOutput
        summary = "Every domain's risk policy"
        tags = ["risk"]

    class PolicyUpsertApi(policy_apis.PolicyUpsertApi):
        service = staticmethod(services.upsert_policy)
        contract = services.POLICY
        class InputSerializer(policy_apis.PolicyInput): ...  # the key and the editable fields
        OutputSerializer = PolicyOutput
        summary, description, tags = ...

The upsert answers 201 with the new policy, 200 with the changed one, everywhere.
"""

from collections.abc import Callable

from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from .openapi import document
from .permissions import IsOperator
from .policies import PolicyContract


def output_fields(contract: PolicyContract) -> list[str]:
    """The fields a policy is answered with: its key, what may be changed, who changed it when."""
    return [*contract.key_names, *contract.fields, "changed_by", "updated_at"]


class PolicyInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, help_text="Why; recorded in the audit trail."
    )


class PolicyListApi(ListAPIView):
    summary = ""
    tags: list[str] = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)

        def get(self, request, *args, **kwargs):
            return ListAPIView.get(self, request, *args, **kwargs)

        cls.get = document(responses={200: cls.serializer_class(many=True)}, tags=cls.tags, summary=cls.summary)(get)


class PolicyUpsertApi(APIView):
    permission_classes = [IsOperator]
    contract: PolicyContract
    InputSerializer: type[PolicyInput]
    OutputSerializer: type[serializers.Serializer]
    summary = description = ""
    tags: list[str] = []

    service: Callable[..., tuple]  # the lever's `upsert_policy` (a staticmethod): (policy, created)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)

        def post(self, request):
            return PolicyUpsertApi.post(self, request)

        cls.post = document(
            request=cls.InputSerializer,
            responses={201: cls.OutputSerializer, 200: cls.OutputSerializer},
            errors=(400,),
            tags=cls.tags,
            summary=f"{cls.summary} (operators): 201 created, 200 changed; audited",
            description=cls.description + " A `reason` is recorded in the audit trail; without one the change "
            "is recorded as unexplained (GOVERNANCE_REQUIRE_REASON makes it mandatory).",
        )(post)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        key = {name: changes.pop(name) for name in self.contract.key_names}
        reason = changes.pop("reason", "")
        policy, created = self.service(**key, changes=changes, reason=reason, actor=request.user)
        return Response(
            self.OutputSerializer(policy).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
