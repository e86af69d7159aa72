"""Append-only below the ORM: what bypasses the model guards still cannot rewrite or delete an
audit event, a KPI event or a sandbox trial on PostgreSQL; deleting a user keeps the actor."""

import pytest
from django.db import DatabaseError, connection, models, transaction

from golive import services as golive
from governance_site.audit.models import AppendOnlyError, AuditEvent
from heimdall import services as heimdall
from heimdall.models import SandboxTrial
from regression import services as regression
from regression.models import KpiEvent
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(operator):
    """One row of each append-only table."""
    golive.set_go_live(enabled=True, reason="launch", actor=operator)
    kpi, _ = regression.record_kpi(domain="WHOLESALE", metric="contract_rate", success=True, event_id="e1", actor="e")
    trial = heimdall.record_trial(domain="WHOLESALE", confidence=0.9, success=True, actor="e")
    return {AuditEvent: AuditEvent.objects.get(), KpiEvent: kpi, SandboxTrial: trial}


def refused(error=(AppendOnlyError, DatabaseError)):
    """pytest.raises in a savepoint, so the test's transaction goes on after a database error."""

    class Refused:
        def __enter__(self):
            self.savepoint = transaction.atomic()
            self.raises = pytest.raises(error)
            self.raises.__enter__()
            self.savepoint.__enter__()

        def __exit__(self, *exc_info):
            self.savepoint.__exit__(*exc_info)
            return self.raises.__exit__(*exc_info)

    return Refused()


def test_kpi_bulk_create_update_conflicts__refused_stored_event_unchanged(rows):
    clash = KpiEvent(domain="WHOLESALE", metric="contract_rate", success=False, event_id="e1", actor="x")
    with refused():
        KpiEvent.objects.bulk_create(
            [clash], update_conflicts=True, unique_fields=["event_id"], update_fields=["success", "actor"]
        )
    assert KpiEvent.objects.get(event_id="e1").success is True


@requires_postgres
@pytest.mark.parametrize("model", [AuditEvent, KpiEvent, SandboxTrial])
def test_base_manager_and_raw_delete__refused_by_the_database(rows, model):
    row = rows[model]
    plain = models.QuerySet(model=model).filter(pk=row.pk)  # no append-only guard at all
    with refused(DatabaseError):
        plain.update(actor="rewritten")
    with refused(DatabaseError):
        model._base_manager.filter(pk=row.pk).delete()
    with refused(DatabaseError):
        plain._raw_delete(plain.db)
    assert model.objects.get(pk=row.pk).actor == row.actor


@requires_postgres
@pytest.mark.parametrize("model", [AuditEvent, KpiEvent, SandboxTrial])
def test_raw_sql_update_or_delete__refused_by_the_database(rows, model):
    table = model._meta.db_table
    for sql in (f"UPDATE {table} SET actor = 'rewritten'", f"DELETE FROM {table}"):
        with refused(DatabaseError), connection.cursor() as cursor:
            cursor.execute(sql)
    assert model.objects.get(pk=rows[model].pk).actor == rows[model].actor


def test_user_deleted__audit_events_keep_the_actor(operator, rows):
    event = rows[AuditEvent]
    user_id = operator.pk
    operator.delete()
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor, stored.actor_user_id) == ("op", user_id)
