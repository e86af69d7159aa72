"""Shared fixtures: one user per role, API clients authenticated with their API (knox) tokens."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from golive import services as golive_services
from governance_site import roles, tokens
from governance_site.alerts import selectors as alert_selectors
from governance_site.alerts import services as alert_services
from governance_site.authentication import credentials

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (row locks, real concurrency): set DATABASE_URL=postgres://…",
)


@pytest.fixture(autouse=True)
def _no_remembered_tokens():
    """Each test starts with an empty token cache (a rolled-back test sends no signal)."""
    credentials.clear()


@pytest.fixture(autouse=True)
def fresh_throttle_counters():
    """Each test starts with no request counted against the API and login throttles."""
    cache.clear()
    yield
    cache.clear()


def acknowledged(instance, actor="tests/setup"):
    """`instance` (a tripwire's state, the production state) with its alerts acknowledged, as an
    operator must before resetting a tripwire."""
    for alert in alert_selectors.unacknowledged_for(instance):
        alert_services.acknowledge(alert_id=alert.pk, note="tests: seen", actor=actor)
    return instance


def _user(django_user_model, username, role=None, **extra):
    user = django_user_model.objects.create_user(username=username, password="pw-" + username, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def operator(django_user_model):
    return _user(django_user_model, "op", roles.OPERATOR, is_staff=True)


@pytest.fixture
def viewer(django_user_model):
    return _user(django_user_model, "viewer", roles.VIEWER, is_staff=True)


@pytest.fixture
def engine(django_user_model):
    return _user(django_user_model, "engine-bot", roles.ENGINE)


@pytest.fixture
def superuser(django_user_model):
    return _user(django_user_model, "root", is_staff=True, is_superuser=True)


@pytest.fixture
def nobody(django_user_model):
    """An authenticated user with no governance role."""
    return _user(django_user_model, "nobody")


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        _, token = tokens.issue(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def api():
    """`api(user)` returns an APIClient authenticated as `user` (None: anonymous)."""
    return client_for


@pytest.fixture
def live(operator):
    """Production switched on (go-live enabled, kill switch released)."""
    return golive_services.set_go_live(enabled=True, reason="test: production on", actor=operator)
