"""Real threads against PostgreSQL: however many evaluations race, a trigger acts exactly once."""

import pytest

from golive import services as golive
from governance_site.audit.models import AuditEvent
from governance_site.errors import Unprocessable
from regression import reasons, services
from regression.models import KpiEvent, PolicyAction, PolicyKind
from risk.models import RiskPolicy
from tests import concurrency
from tests.conftest import requires_postgres

from .conftest import outcomes

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def race(work, threads=THREADS):
    return concurrency.race(work, threads)


def api_or_beat(domain: str, metric: str):
    """Even threads evaluate like the API (one policy, a user's name), odd ones like beat (all)."""

    def work(i):
        if i % 2:
            return services.evaluate_all(actor=reasons.BEAT_ACTOR)[f"{domain}.{metric}"]
        return services.evaluate(domain=domain, metric=metric, actor=f"engine/{i}").status

    return work


def test_8_concurrent_evaluations__throttle__taken_once(tripwire, feed, wholesale_risk):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    assert race(api_or_beat("WHOLESALE", "contract_rate")) == ["triggered"] * THREADS
    assert AuditEvent.objects.filter(action="tripwire.trigger").count() == 1
    assert AuditEvent.objects.filter(lever="risk", action="policy.update").count() == 1
    assert not RiskPolicy.objects.get(domain="WHOLESALE").enabled


def test_8_concurrent_evaluations__kill_switch__engaged_once(tripwire, feed, live):
    tripwire("CAPITAL", "roi_event", kind=PolicyKind.MEAN_VALUE, action=PolicyAction.KILL_SWITCH)
    feed([5.0] * 200 + [-5.0] * 50, "CAPITAL", "roi_event")
    assert race(api_or_beat("CAPITAL", "roi_event")) == ["triggered"] * THREADS
    assert AuditEvent.objects.filter(action="tripwire.trigger").count() == 1
    assert AuditEvent.objects.filter(action="kill_switch.engage").count() == 1
    assert golive.get_state().kill_switch_engaged


def test_racing_batches__same_event_ids__stored_once_counted_once_conflicts_refused():
    def batch(i):
        events = [
            {"domain": "WHOLESALE", "metric": "contract_rate", "success": i % 2 == 0, "event_id": f"ev-{n}"}
            for n in range(300)
        ]
        try:
            return services.record_kpi_batch(events=events, actor=f"engine/{i}")
        except Unprocessable as exc:
            return exc

    results = race(batch, threads=4)
    stored = KpiEvent.objects.filter(event_id__startswith="ev-")
    assert stored.count() == 300
    winner = stored.first().success
    for i, result in enumerate(results):
        if (i % 2 == 0) != winner:  # told another event is stored under its event_ids
            assert isinstance(result, Unprocessable) and result.reason == "event_id_reused"
    created = [r.created for r in results if not isinstance(r, Unprocessable)]
    assert sum(created) == 300 and sorted(created)[-1] == 300


@pytest.mark.parametrize("attempt", range(5))
def test_racing_batches__same_events_in_opposite_orders__both_succeed_stored_once(attempt):
    """Batches of the same 2,000 events, half of them reversed, posted at once (a deadlock before)."""
    events = [
        {"domain": "WHOLESALE", "metric": "contract_rate", "success": n % 3 == 0, "event_id": f"ev-{attempt}-{n}"}
        for n in range(2000)
    ]

    def batch(i):
        return services.record_kpi_batch(events=events if i % 2 else events[::-1], actor=f"engine/{i}")

    results = race(batch, threads=6)
    assert KpiEvent.objects.filter(event_id__startswith=f"ev-{attempt}-").count() == 2000
    assert sum(result.created for result in results) == 2000
    assert [len(result.duplicates) + result.created for result in results] == [2000] * 6


def test_evaluations_racing_ingest__every_event_judged_exactly_once(tripwire, feed):
    """Batches arrive while evaluations run: the detector's state, locked with its policy, has seen
    each event once, in order (its epoch count equals the events stored before the last evaluation)."""
    tripwire()
    feed(outcomes(250, 250))

    def work(i):
        if i % 2:
            feed(outcomes(40, 40))
            return None
        return services.evaluate(domain="WHOLESALE", metric="contract_rate", actor=f"engine/{i}").status

    race(work)
    state = services.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tests/final")
    stored = KpiEvent.objects.filter(metric="contract_rate").count()
    assert stored == 250 + 40 * (THREADS // 2)
    assert state.explanation["epoch_events"] + state.late_events == stored
    assert state.status == "ok"
