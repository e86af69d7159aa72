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
    remembered = getattr(user, REMEMBERED, None)
    if remembered is not None:
        return not remembered.isdisjoint(roles)
    return user.groups.filter(name__in=roles).exists()


REMEMBERED = "_governance_roles"


def remember_roles(user) -> None:
    """Read `user`'s governance roles once and keep them on this user object, so `has_role` asks
    no query (the token cache does this for the user it hands each request; see authentication.py)."""
    if user.is_authenticated and not user.is_superuser:
        setattr(user, REMEMBERED, frozenset(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True)))


def is_operator(user) -> bool:
    return has_role(user, OPERATOR)
