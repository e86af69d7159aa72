"""DRF permissions mapped per view: viewers read, engines act, operators change."""

from rest_framework.permissions import BasePermission

from . import roles


class _RolePermission(BasePermission):
    roles: tuple[str, ...] = ()
    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        return roles.has_role(request.user, *self.roles)


class IsGovernanceReader(_RolePermission):
    """Any governance role may read."""

    roles = roles.ALL_ROLES
    message = "Only governance operators, viewers and engines may read the control plane."


class IsEngineOrOperator(_RolePermission):
    """Engines (and operators) post events and trials, reserve and settle, and ask for decisions."""

    roles = (roles.ENGINE, roles.OPERATOR)
    message = "Only engines and governance operators may do this."


class IsOperator(_RolePermission):
    """Only operators change policies and switches."""

    roles = (roles.OPERATOR,)
    message = "Only governance operators may change policies and switches."
