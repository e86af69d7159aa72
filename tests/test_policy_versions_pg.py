"""Real threads against PostgreSQL: changes made against the same version, one wins, the rest are refused."""

import pytest

from governance_site.audit.models import AuditEvent
from governance_site.policies import STALE_VERSION, version_of
from risk import services
from risk.models import RiskPolicy
from tests.concurrency import outcome, race
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def test_changes_against_one_version__exactly_one_saved_the_rest_stale():
    policy, _ = services.upsert_policy(domain="WHOLESALE", changes={"max_daily_actions": 1}, actor="ops/setup")
    seen = version_of(policy)

    def change(i):
        return outcome("saved", services.upsert_policy, domain="WHOLESALE", changes={"max_daily_actions": 10 + i},
                       actor=f"ops/{i}", version=seen)  # fmt: skip

    outcomes = race(change, THREADS)
    assert sorted(outcomes) == ["saved"] + [STALE_VERSION] * (THREADS - 1)
    winner = outcomes.index("saved")
    assert RiskPolicy.objects.get().max_daily_actions == 10 + winner
    update = AuditEvent.objects.get(action="policy.update")
    assert (update.actor, update.before["max_daily_actions"]) == (f"ops/{winner}", 1)
