"""Real threads against PostgreSQL: tripwires of several domains triggering at once still count
each other, so the cascade and the blast-radius cap hold."""

from collections import Counter

import pytest

from golive import services as golive
from regression import cascade, services
from regression.models import PolicyAction
from risk import services as risk
from risk.models import RiskPolicy
from tests import concurrency
from tests.conftest import requires_postgres

from .conftest import SETUP, WHOLESALE_CAPS, outcomes

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

DOMAINS = ["BUYERS", "CAPITAL", "ROUTING", "WHOLESALE"]


@pytest.fixture
def breaching(tripwire, feed, live):
    """A breaching tripwire and an enabled risk policy on each of DOMAINS, not yet evaluated."""
    for domain in DOMAINS:
        tripwire(domain=domain, window_events=10, baseline_events=20)
        risk.upsert_policy(domain=domain, changes=WHOLESALE_CAPS, actor=SETUP)
        feed(outcomes(20, 20) + outcomes(0, 10), domain=domain)


def evaluate_all_at_once():
    states = concurrency.race(
        lambda i: services.evaluate(domain=DOMAINS[i], metric="contract_rate", actor="tripwire/beat"), len(DOMAINS)
    )
    return Counter(state.action_taken for state in states)


def test_4_domains_triggering_at_once__cascade_at_3__kill_switch_engaged(breaching):
    cascade.upsert_cascade(changes={"max_throttled_domains": 3}, actor=SETUP)
    taken = evaluate_all_at_once()
    # The first two throttle; the third to commit sees three throttled and escalates; the fourth
    # sees three or more too.
    assert taken == {PolicyAction.THROTTLE: 2, PolicyAction.KILL_SWITCH: 2}
    assert golive.get_state().kill_switch_engaged


def test_4_domains_triggering_at_once__blast_radius_2__exactly_2_throttled(breaching):
    cascade.upsert_cascade(changes={"blast_radius": 2}, actor=SETUP)
    taken = evaluate_all_at_once()
    assert taken == {PolicyAction.THROTTLE: 2, PolicyAction.KILL_SWITCH: 2}
    assert RiskPolicy.objects.filter(enabled=False).count() == 2
    assert golive.get_state().kill_switch_engaged
