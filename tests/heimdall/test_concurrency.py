"""Real threads against PostgreSQL: racing operators still leave one policy and a full audit trail."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from governance_site.audit.models import AuditEvent
from heimdall import services
from heimdall.models import HeimdallPolicy
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def test_concurrent_upserts__new_domain__one_policy_and_every_change_audited_in_order():
    barrier = threading.Barrier(THREADS, timeout=30)

    def upsert(i):
        try:
            barrier.wait()
            _, created = services.upsert_policy(
                domain="CAPITAL", changes={"min_sandbox_trials": 10 + i}, actor="ops/race", reason=f"race {i}"
            )
            return created
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        created = list(pool.map(upsert, range(THREADS)))

    assert created.count(True) == 1
    events = list(AuditEvent.objects.order_by("id"))
    assert [event.action for event in events] == ["policy.create"] + ["policy.update"] * (THREADS - 1)
    for earlier, later in zip(events, events[1:], strict=False):
        assert later.before == earlier.after  # each change saw the one before it
    assert HeimdallPolicy.objects.get().min_sandbox_trials == events[-1].after["min_sandbox_trials"]
