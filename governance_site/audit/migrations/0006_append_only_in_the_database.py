"""Append-only in the database too (PostgreSQL): a trigger refuses UPDATE and DELETE of audit
events, KPI events and sandbox trials, whatever bypasses the ORM's guard (the base manager,
`_raw_delete`, `bulk_create(update_conflicts=True)`, raw SQL). SQLite keeps the ORM guards.

TRUNCATE is left to privileges (revoke it from the application's role in production): Django's
`flush` and the test runner empty tables with it.

Deleting a user no longer touches the audit trail: `actor_user` becomes DO_NOTHING without a
database constraint (SET_NULL would UPDATE an append-only row); the name stays in `actor`.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLES = ("audit_auditevent", "regression_kpievent", "heimdall_sandboxtrial")

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION governance_refuse_append_only_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def _trigger(table: str) -> str:
    return f"{table}_append_only"


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION, params=None)  # its % are RAISE placeholders
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {_trigger(table)} BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION governance_refuse_append_only_change()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {_trigger(table)} ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS governance_refuse_append_only_change()")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_hash_api_tokens"),
        ("regression", "0001_initial"),
        ("heimdall", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor_user",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
