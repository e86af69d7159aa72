"""The token cache: a verified token asks no query for GOVERNANCE_TOKEN_CACHE_SECONDS; revoking
it, deactivating its user or changing their groups takes effect on the next request in this
process, and within the bound in any other (simulated here by changing the rows behind Django's
back and moving the cache's clock)."""

import datetime as dt
import time

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken

from governance_site import roles
from governance_site.authentication import credentials

pytestmark = pytest.mark.django_db

STATE = "/api/governance/go-live/state"


@pytest.fixture
def engine_api(api, engine):
    client = api(engine)
    assert client.get(STATE).status_code == 200  # verified once, now remembered
    return client


def queries_of(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(STATE).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_remembered_token__asks_no_query_for_the_token_user_or_roles(engine_api, settings):
    remembered = queries_of(engine_api)
    settings.GOVERNANCE_TOKEN_CACHE_SECONDS = 0
    looked_up = queries_of(engine_api)
    # knox: the token with its user, the user's other tokens (expired ones are deleted); the roles
    assert len(looked_up) == len(remembered) + 3
    assert not any("knox_authtoken" in sql or "auth_group" in sql for sql in remembered)


def test_token_deleted__refused_on_the_next_request(engine_api, engine):
    AuthToken.objects.filter(user=engine).delete()
    assert engine_api.get(STATE).status_code == 401


def test_user_deactivated__refused_on_the_next_request(engine_api, engine):
    engine.is_active = False
    engine.save()
    assert engine_api.get(STATE).status_code == 401


def test_role_removed__forbidden_on_the_next_request(engine_api, engine):
    engine.groups.remove(Group.objects.get(name=roles.ENGINE))
    assert engine_api.get(STATE).status_code == 403


def test_revoked_in_another_process__refused_once_the_bound_has_passed(engine_api, engine, settings, monkeypatch):
    with connection.cursor() as cursor:  # no signal: as if another process had deleted it
        cursor.execute(f"DELETE FROM {AuthToken._meta.db_table} WHERE user_id = %s", [engine.pk])
    assert engine_api.get(STATE).status_code == 200  # still remembered, within the bound
    later = time.monotonic() + settings.GOVERNANCE_TOKEN_CACHE_SECONDS + 0.001
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert engine_api.get(STATE).status_code == 401


def test_bad_token__never_remembered(api, engine):
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert client.get(STATE).status_code == 401
    assert client.get(STATE).status_code == 401


def test_token_expiring_sooner__remembered_no_longer_than_it_lives(api, engine, monkeypatch):
    client = api(engine)
    AuthToken.objects.filter(user=engine).update(expiry=timezone.now() + dt.timedelta(seconds=2))
    assert client.get(STATE).status_code == 200
    [(deadline, _, _)] = credentials._entries.values()
    assert deadline <= time.monotonic() + 2


def test_size_bound__oldest_token_forgotten_first(api, django_user_model, settings):
    settings.GOVERNANCE_TOKEN_CACHE_SIZE = 2
    group = Group.objects.get(name=roles.VIEWER)
    users = [django_user_model.objects.create_user(username=f"v{i}") for i in range(3)]
    for user in users:
        user.groups.add(group)
    clients = [api(user) for user in users]  # created before any is remembered: no signal clears them
    for client in clients:
        assert client.get(STATE).status_code == 200
    remembered = {user.username for _, user, _ in credentials._entries.values()}
    assert remembered == {"v1", "v2"}
