"""The three roles (Django groups, created by a data migration) and who belongs to which."""

OPERATOR = "governance-operator"  # change policies and switches
VIEWER = "governance-viewer"  # read only
ENGINE = "engine"  # post KPIs and trials, reserve/settle/release, ask for checks

ALL_ROLES = (OPERATOR, VIEWER, ENGINE)


def has_role(user, *roles: str) -> bool:
    """True when `user` is an active superuser or belongs to one of `roles`."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=roles).exists()


def is_operator(user) -> bool:
    return has_role(user, OPERATOR)
