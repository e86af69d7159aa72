"""API tokens (django-rest-knox): stored as digests only, each with an expiry, revoked in the admin,
and the plaintext DRF tokens of an earlier install converted by their migration."""

import datetime as dt
import importlib
import io

import pytest
from django.apps import apps
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken

from governance_site import tokens

pytestmark = pytest.mark.django_db

STATE = "/api/governance/go-live/state"
TOKENS = "/admin/knox/authtoken/"
token_migration = importlib.import_module("governance_site.audit.migrations.0005_hash_api_tokens")


class SchemaEditor:
    """What the migration uses of a schema editor (SQLite's real one refuses to open inside a
    test's transaction)."""

    connection = connection

    def execute(self, sql):
        with connection.cursor() as cursor:
            cursor.execute(sql)


def get_with(client, token: str):
    return client.get(STATE, HTTP_AUTHORIZATION=f"Token {token}")


def test_issue__only_a_digest_is_stored_and_the_token_authenticates(client, engine):
    _, token = tokens.issue(user=engine)
    stored = AuthToken.objects.get(user=engine)
    assert stored.digest == hash_token(token) and token != stored.digest
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthToken._meta.db_table}")
        assert not any(token in str(value) for row in cursor.fetchall() for value in row)
    assert get_with(client, token).status_code == 200


@override_settings(REST_KNOX={"TOKEN_TTL": dt.timedelta(days=90)})
def test_issue__expires_after_the_configured_days_unless_told(engine):
    default, _ = tokens.issue(user=engine)
    assert abs(default.expiry - (timezone.now() + dt.timedelta(days=90))) < dt.timedelta(minutes=1)
    short, _ = tokens.issue(user=engine, days=1)
    assert abs(short.expiry - (timezone.now() + dt.timedelta(days=1))) < dt.timedelta(minutes=1)


def test_token__past_its_expiry__401(client, engine):
    instance, token = tokens.issue(user=engine, days=1)
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    assert get_with(client, token).status_code == 401


def test_token__revoked_in_the_admin__401(client, superuser, engine):
    instance, token = tokens.issue(user=engine)
    client.force_login(superuser)
    response = client.post(TOKENS, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [instance.pk], "post": "yes"})
    assert response.status_code == 302
    client.logout()
    assert get_with(client, token).status_code == 401


def test_admin__token_list_shows_owner_and_expiry(client, superuser, engine):
    tokens.issue(user=engine)
    client.force_login(superuser)
    response = client.get(TOKENS)
    assert response.status_code == 200 and b"engine-bot" in response.content


def test_create_api_token_command__prints_a_token_that_authenticates(client, engine):
    out = io.StringIO()
    call_command("create_api_token", "engine-bot", "--days", "7", stdout=out)
    token = out.getvalue().split()[-1]
    assert get_with(client, token).status_code == 200
    assert AuthToken.objects.get(user=engine).expiry < timezone.now() + dt.timedelta(days=7, minutes=1)


def test_create_demo_operator__prints_a_working_api_token(client, tmp_path, monkeypatch):
    from golive.management.commands import create_demo_operator

    monkeypatch.setattr(create_demo_operator, "LOGIN_FILE", tmp_path / "login")
    out = io.StringIO()
    call_command("create_demo_operator", stdout=out)
    line = next(line for line in out.getvalue().splitlines() if line.startswith("API token"))
    assert get_with(client, line.split()[-1]).status_code == 200


def test_migration__plaintext_drf_tokens__hashed_keep_working_until_the_grace_date_and_plaintext_dropped(
    client, operator
):
    legacy = "0123456789abcdef0123456789abcdef01234567"  # a DRF authtoken key: 40 hex characters
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone, "
            "user_id integer)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created datetime, user_id integer)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [legacy, timezone.now(), operator.pk],
        )
    token_migration.hash_plaintext_tokens(apps, SchemaEditor())
    assert "authtoken_token" not in connection.introspection.table_names()
    converted = AuthToken.objects.get(user=operator)
    assert converted.digest == hash_token(legacy)
    grace = timezone.now() + dt.timedelta(days=token_migration.GRACE_DAYS)
    assert abs(converted.expiry - grace) < dt.timedelta(minutes=1)
    assert get_with(client, legacy).status_code == 200


def test_migration__no_drf_tokens_table__nothing_to_do():
    token_migration.hash_plaintext_tokens(apps, SchemaEditor())
    assert not AuthToken.objects.exists()


def test_admin__issue_a_token__shown_once_and_it_authenticates(client, superuser, engine):
    client.force_login(superuser)
    expiry = timezone.now() + dt.timedelta(days=3)
    response = client.post(
        f"{TOKENS}add/",
        {"user": engine.pk, "expiry_0": expiry.strftime("%Y-%m-%d"), "expiry_1": expiry.strftime("%H:%M:%S")},
        follow=True,
    )
    message = next(str(m) for m in response.context["messages"] if str(m).startswith("TOKEN "))
    client.logout()
    assert get_with(client, message.split()[-1]).status_code == 200
