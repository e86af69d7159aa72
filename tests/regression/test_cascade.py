"""The cascade: N throttled domains engage the kill switch; a throttle that does not stabilise
becomes a domain kill, then the kill switch; the blast-radius cap; the Heimdall link demoting one
model version; KILL_DOMAIN. Every step names the chain and is audited."""

import datetime as dt

import pytest
from django.utils import timezone

from golive import services as golive
from golive.models import ScopedKill
from governance_site.audit.models import AuditEvent
from governance_site.errors import Conflict
from heimdall import reasons as heimdall_reasons
from heimdall import services as heimdall
from regression import cascade, services
from regression.models import PolicyAction
from risk import services as risk
from risk.models import Reservation, RiskPolicy, Status

from .conftest import SETUP, WHOLESALE_CAPS, outcomes

pytestmark = pytest.mark.django_db

SMALL = {"window_events": 10, "baseline_events": 20}


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = timezone.now()

        def advance(self, **delta):
            self.now += dt.timedelta(**delta)

    frozen = Clock()
    monkeypatch.setattr(timezone, "now", lambda: frozen.now)
    return frozen


def steps(chain: str, trigger: str) -> str:
    """The chain after its first step, which must be the trigger reason starting with `trigger` (the
    detector's evidence follows it)."""
    first, _, rest = chain.partition(" → ")
    assert first.startswith(f"{trigger}; "), first
    return rest


def set_cascade(**rules):
    cascade.upsert_cascade(changes=rules, actor=SETUP, reason="cascade rules")


def breach(tripwire, feed, domain, **changes):
    """A tripwire on `domain` whose window (0%) dropped from its baseline (100%); evaluated."""
    tripwire(domain=domain, **{**SMALL, **changes})
    risk.upsert_policy(domain=domain, changes=WHOLESALE_CAPS, actor=SETUP)
    feed(outcomes(20, 20) + outcomes(0, 10), domain=domain)
    return services.evaluate(domain=domain, metric="contract_rate", actor="tripwire/beat")


def test_no_cascade__three_throttled__no_kill_switch(tripwire, feed, live):
    states = [breach(tripwire, feed, domain) for domain in ("BUYERS", "CAPITAL", "WHOLESALE")]
    assert [state.action_taken for state in states] == [PolicyAction.THROTTLE] * 3
    assert not golive.get_state().kill_switch_engaged


def test_cascade__third_throttled_domain__kill_switch_naming_the_chain(tripwire, feed, live):
    set_cascade(max_throttled_domains=3)
    assert breach(tripwire, feed, "BUYERS").action_taken == PolicyAction.THROTTLE
    assert breach(tripwire, feed, "CAPITAL").action_taken == PolicyAction.THROTTLE
    assert not golive.get_state().kill_switch_engaged
    state = breach(tripwire, feed, "WHOLESALE")
    chain = "throttle WHOLESALE → 3 domains throttled at once (BUYERS, CAPITAL, WHOLESALE), cascade at 3"
    assert state.action_taken == PolicyAction.KILL_SWITCH
    assert steps(state.chain, "Regression: WHOLESALE.contract_rate dropped 100% (> 20%)") == chain + " → kill switch"
    killed = golive.get_state()
    assert (killed.kill_switch_engaged, killed.changed_by) == (True, "tripwire/beat")
    assert killed.reason == state.chain.removesuffix(" → kill switch")
    assert AuditEvent.objects.get(action="kill_switch.engage").reason == killed.reason
    assert not RiskPolicy.objects.get(domain="WHOLESALE").enabled  # throttled first


def test_cascade__throttle_still_breaching_after_stabilisation__domain_kill_then_kill_switch(
    tripwire, feed, live, clock
):
    set_cascade(stabilisation_seconds=60)
    state = breach(tripwire, feed, "WHOLESALE")
    assert state.action_taken == PolicyAction.THROTTLE
    clock.advance(seconds=30)
    feed(outcomes(0, 5))
    state = services.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tripwire/beat")
    assert state.action_taken == PolicyAction.THROTTLE  # not yet: 30s < 60s
    clock.advance(seconds=31)
    state = services.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tripwire/beat")
    assert state.action_taken == PolicyAction.KILL_DOMAIN
    assert steps(state.chain, "Regression: WHOLESALE.contract_rate dropped 100% (> 20%)") == (
        "throttle WHOLESALE → still dropped 100% 61s later (stabilisation 60s) → domain kill WHOLESALE"
    )
    kill = ScopedKill.objects.get(scope="domain", target="WHOLESALE")
    assert (kill.engaged, kill.changed_by) == (True, "tripwire/beat")
    assert not golive.get_state().kill_switch_engaged
    escalation = AuditEvent.objects.get(action="tripwire.escalate")
    assert (escalation.reason, escalation.after["action_taken"]) == (state.chain, "KILL_DOMAIN")
    clock.advance(seconds=61)
    state = services.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tripwire/beat")
    assert state.action_taken == PolicyAction.KILL_DOMAIN  # no event arrived since the domain kill
    feed(outcomes(0, 3))
    state = services.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tripwire/beat")
    assert state.action_taken == PolicyAction.KILL_SWITCH
    assert state.chain.endswith(
        "→ domain kill WHOLESALE → still dropped 100% 61s later (stabilisation 60s) → kill switch"
    )
    assert golive.get_state().kill_switch_engaged


def test_cascade__throttle_stabilised__no_escalation(tripwire, feed, live, clock):
    set_cascade(stabilisation_seconds=60)
    breach(tripwire, feed, "WHOLESALE")
    clock.advance(seconds=120)
    feed(outcomes(10, 10))  # the window recovered
    state = services.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tripwire/beat")
    assert state.action_taken == PolicyAction.THROTTLE
    assert not ScopedKill.objects.exists()


def test_blast_radius__beyond_m_unacknowledged_throttles__kill_switch_instead(tripwire, feed, live, operator):
    set_cascade(blast_radius=2)
    breach(tripwire, feed, "BUYERS")
    breach(tripwire, feed, "CAPITAL")
    state = breach(tripwire, feed, "WHOLESALE")
    assert state.action_taken == PolicyAction.KILL_SWITCH
    assert steps(state.chain, "Regression: WHOLESALE.contract_rate dropped 100% (> 20%)") == (
        "blast radius: 2 domain(s) throttled without acknowledgement (BUYERS, CAPITAL), at most 2 → kill switch"
    )
    assert RiskPolicy.objects.get(domain="WHOLESALE").enabled  # escalated instead of throttling one more
    assert golive.get_state().kill_switch_engaged


def test_blast_radius__acknowledged_throttle__no_longer_counted(tripwire, feed, live, operator):
    set_cascade(blast_radius=2)
    breach(tripwire, feed, "BUYERS")
    breach(tripwire, feed, "CAPITAL")
    services.acknowledge(domain="BUYERS", metric="contract_rate", reason="seen, engine paused", actor=operator)
    event = AuditEvent.objects.get(action="tripwire.acknowledge")
    assert (event.actor, event.reason, event.after["acknowledged_by"]) == ("op", "seen, engine paused", "op")
    assert breach(tripwire, feed, "WHOLESALE").action_taken == PolicyAction.THROTTLE
    assert not golive.get_state().kill_switch_engaged


def test_acknowledge__not_a_throttle__409(tripwire, operator):
    tripwire()
    with pytest.raises(Conflict):
        services.acknowledge(domain="WHOLESALE", metric="contract_rate", reason="r", actor=operator)


def test_kill_domain_action__domain_killed_reservations_cancelled_global_untouched(tripwire, feed, live):
    risk.upsert_policy(domain="WHOLESALE", changes=WHOLESALE_CAPS, actor=SETUP)
    entry = risk.reserve(domain="WHOLESALE", amount="10", actor="engine-a")
    state = breach(tripwire, feed, "WHOLESALE", action=PolicyAction.KILL_DOMAIN)
    assert state.action_taken == PolicyAction.KILL_DOMAIN
    assert ScopedKill.objects.get(scope="domain", target="WHOLESALE").engaged
    assert Reservation.objects.get(pk=entry.pk).status == Status.CANCELLED
    assert not golive.get_state().kill_switch_engaged
    assert golive.may_execute(domain="CAPITAL").ok
    assert golive.may_execute(domain="WHOLESALE").scope == "domain WHOLESALE"


def _versioned(feed, pattern):
    """KPI events with model versions: [(success, version), ...], one second apart."""
    events = []
    for success, version in pattern:
        feed.clock += dt.timedelta(seconds=1)
        events.append({"domain": "WHOLESALE", "metric": "contract_rate", "success": success,
                       "model_version": version, "occurred_at": feed.clock})  # fmt: skip
    services.record_kpi_batch(events=events, actor=SETUP)


def test_heimdall_link__v2_regressed__v2_demoted_v1_eligible_domain_running(tripwire, feed, live, operator):
    tripwire(heimdall_link=True, **SMALL)
    risk.upsert_policy(domain="WHOLESALE", changes=WHOLESALE_CAPS, actor=SETUP)
    heimdall.upsert_policy(
        domain="WHOLESALE", changes={"enabled": True, "min_sandbox_trials": 2, "min_success_rate": 0.5}, actor=SETUP
    )
    for version in ("v1", "v2"):
        for _ in range(2):
            heimdall.record_trial(domain="WHOLESALE", confidence=0.9, success=True, model_version=version, actor=SETUP)
    _versioned(feed, [(True, "v1"), (True, "v2")] * 10)  # baseline 100%
    _versioned(feed, [(True, "v1"), (False, "v2")] * 5)  # window 50%: v1 100%, v2 0%
    state = services.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tripwire/beat")
    assert state.action_taken == PolicyAction.DEMOTE
    assert steps(state.chain, "Regression: WHOLESALE.contract_rate dropped 50% (> 20%)") == "demote v2"
    v2 = heimdall.check_prod_eligible(domain="WHOLESALE", confidence=0.9, model_version="v2")
    assert (v2.prod_eligible, v2.reason) == (False, heimdall_reasons.DEMOTED_BY_TRIPWIRE)
    assert heimdall.check_prod_eligible(domain="WHOLESALE", confidence=0.9, model_version="v1").prod_eligible
    assert RiskPolicy.objects.get(domain="WHOLESALE").enabled
    assert not golive.get_state().kill_switch_engaged and not ScopedKill.objects.exists()
    demotion = AuditEvent.objects.get(action="model_version.demote")
    assert demotion.reason.endswith("v2's 5 window events dropped 100%")


def test_heimdall_link__events_without_versions__policy_action_taken(tripwire, feed, live):
    state = breach(tripwire, feed, "WHOLESALE", heimdall_link=True)
    assert state.action_taken == PolicyAction.THROTTLE


def test_cascade_api__upsert_audited_and_listed(api, operator):
    body = {"max_throttled_domains": 3, "stabilisation_seconds": 600, "reason": "spec's cascade"}
    response = api(operator).post("/api/governance/regression/cascade/upsert", body, format="json")
    assert response.status_code == 201, response.json()
    listed = api(operator).get("/api/governance/regression/cascade").json()["results"]
    assert [(c["max_throttled_domains"], c["stabilisation_seconds"], c["blast_radius"]) for c in listed] == [
        (3, 600, None)
    ]
    event = AuditEvent.objects.get()
    assert (event.action, event.lever, event.reason) == ("policy.create", "regression", "spec's cascade")
    bad = api(operator).post("/api/governance/regression/cascade/upsert", {"blast_radius": 0}, format="json")
    assert (bad.status_code, bad.json()["field"]) == (400, "blast_radius")


def test_acknowledge_api__operator_200_engine_403(api, operator, engine, tripwire, feed, live):
    breach(tripwire, feed, "WHOLESALE")
    body = {"domain": "WHOLESALE", "metric": "contract_rate", "reason": "seen"}
    assert api(engine).post("/api/governance/regression/acknowledge", body, format="json").status_code == 403
    answer = api(operator).post("/api/governance/regression/acknowledge", body, format="json")
    assert (answer.status_code, answer.json()["acknowledged_by"]) == (200, "op")


def test_kpi_api__model_version__stored_and_replay_compared(api, engine):
    body = {"domain": "WHOLESALE", "metric": "contract_rate", "success": True, "event_id": "e1", "model_version": "v2"}
    assert api(engine).post("/api/governance/regression/kpi", body, format="json").json()["model_version"] == "v2"
    other = api(engine).post("/api/governance/regression/kpi", {**body, "model_version": "v3"}, format="json")
    assert (other.status_code, other.json()["field"]) == (422, "event_id")
