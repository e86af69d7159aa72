"""The list and upsert API of every lever's policy, built from its contract. A lever's apis.py
declares only its input (the key and the editable fields, with their serializer fields):

    class PolicyInput(policy_apis.PolicyInput):
        domain = DomainField()
        enabled = serializers.BooleanField(required=False)
        ...

    PolicyListApi, PolicyUpsertApi = policy_apis.views(services.POLICY, PolicyInput)

The upsert answers 201 with a new policy and 200 with a changed one, everywhere. Every answer
carries the policy's `version`; an upsert that sends it back changes the policy only if nobody
changed it since (else 409 `stale_version`, naming the field `version`).
"""

from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from .fields import validated
from .openapi import document
from .permissions import IsOperator
from .policies import STALE_VERSION, PolicyContract, version_of


class PolicyInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Why; recorded in the audit trail. Without one the change is recorded as unexplained "
        "(GOVERNANCE_REQUIRE_REASON makes it mandatory).",
    )
    version = serializers.CharField(
        max_length=64,
        required=False,
        help_text="The `version` of the policy as you last read it: a change made since is refused (409 "
        f"`{STALE_VERSION}`), never overwritten. Without it the change applies to the policy as it is now.",
    )


class PolicyOutputBase(serializers.ModelSerializer):
    version = serializers.SerializerMethodField(help_text="Send it back with an upsert to change only what you read.")

    def get_version(self, policy) -> str:
        return version_of(policy)


def _defaults(contract: PolicyContract) -> str:
    fields = [contract.model._meta.get_field(name) for name in contract.fields]
    return ", ".join(f"`{field.name}` {field.get_default()}" for field in fields)


def views(contract: PolicyContract, input_serializer: type[PolicyInput]) -> tuple[type, type]:
    """(list view, upsert view) of `contract`'s policy, named and documented in the lever's module."""
    module = input_serializer.__module__
    meta = type("Meta", (), {"model": contract.model, "fields": [*contract.key_names, *contract.fields, "changed_by",
                                                                    "updated_at", "version"]})  # fmt: skip
    name = input_serializer.__name__.removesuffix("Input") + "Output"  # PolicyInput → PolicyOutput
    output = type(name, (PolicyOutputBase,), {"Meta": meta, "__module__": module})

    class PolicyListApi(ListAPIView):
        queryset = contract.model.objects.all()
        serializer_class = output

        @document(responses={200: output(many=True)}, errors=(400,), summary=f"Every {contract.title}")
        def get(self, request, *args, **kwargs):
            return super().get(request, *args, **kwargs)

    class PolicyUpsertApi(APIView):
        permission_classes = [IsOperator]
        InputSerializer = input_serializer

        @document(
            responses={201: output, 200: output},
            errors=(400, 409),
            summary=f"Create (201) or change (200) a {contract.title} (operators); audited",
            description=f"Give {', '.join(f'`{name}`' for name in contract.key_names)} and any subset of the "
            f"other fields: those left out keep their value (for a new policy, their default: {_defaults(contract)}). "
            f"With `version`, a policy changed since that version is a 409 `{STALE_VERSION}` naming `version`.",
        )
        def post(self, request):
            data = validated(self.InputSerializer, request.data)
            changes = dict(data)
            key = {name: changes.pop(name) for name in contract.key_names}
            reason, version = changes.pop("reason", ""), changes.pop("version", None)
            policy, created = contract.upsert(
                key=key, changes=changes, reason=reason, version=version, actor=request.user
            )
            return Response(output(policy).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    for view in (PolicyListApi, PolicyUpsertApi):
        view.__module__ = module
    return PolicyListApi, PolicyUpsertApi
