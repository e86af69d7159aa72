"""API tokens move from DRF's authtoken (plaintext keys) to django-rest-knox (SHA-512 digests).

Each existing DRF token is converted, not lost: its key is hashed the way knox hashes a presented
token, so the same `Authorization: Token <key>` header keeps working, until GRACE_DAYS after this
migration ran; after that the token has expired and its user needs a new one
(`python manage.py create_api_token USERNAME`). Then the plaintext table is dropped, so no usable
credential is left in the database. Operators: rotate the engines' tokens within GRACE_DAYS.
Irreversible (the plaintext keys are gone); a fresh install has no authtoken table and skips it.
"""

import datetime as dt

from django.db import migrations
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS

GRACE_DAYS = 30
LEGACY_TABLE = "authtoken_token"


def hash_plaintext_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    expiry = timezone.now() + dt.timedelta(days=GRACE_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {LEGACY_TABLE}")
        legacy = cursor.fetchall()
    AuthToken.objects.using(connection.alias).bulk_create(
        AuthToken(digest=hash_token(key), token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH], user_id=user_id, expiry=expiry)
        for key, user_id in legacy
    )
    schema_editor.execute(f"DROP TABLE {LEGACY_TABLE}")
    # rest_framework.authtoken is no longer installed: forget its migrations, so that installing it
    # again would create its table afresh.
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_lever_schedule"), ("knox", "0009_extend_authtoken_field")]

    operations = [migrations.RunPython(hash_plaintext_tokens, migrations.RunPython.noop)]
