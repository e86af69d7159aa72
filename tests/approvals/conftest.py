"""Four-eyes fixtures: approvals on, a second operator, a bypasser, production killed."""

import pytest
from django.contrib.auth.models import Group, Permission

from golive import services as golive
from governance_site import roles
from tests.regression.conftest import feed, tripwire, wholesale_risk  # noqa: F401  (fixtures used here too)

SETUP = "tests/setup"


@pytest.fixture
def approvals_on(settings):
    settings.GOVERNANCE_APPROVALS_REQUIRED = True
    settings.GOVERNANCE_APPROVALS_COUNT = 1
    return settings


@pytest.fixture
def second_operator(django_user_model):
    user = django_user_model.objects.create_user(username="op2", password="pw-op2", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.OPERATOR))
    return user


@pytest.fixture
def bypasser(django_user_model):
    user = django_user_model.objects.create_user(username="incident", password="pw-incident", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.OPERATOR))
    user.user_permissions.add(Permission.objects.get(codename="emergency_bypass"))
    return django_user_model.objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def killed(db):
    return golive.set_kill_switch(engaged=True, reason="incident", actor=SETUP)
