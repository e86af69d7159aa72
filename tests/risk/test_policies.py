import pytest

from governance_site.audit.models import AuditEvent
from governance_site.errors import InvalidInput
from risk import reasons, services
from risk.models import RiskPolicy

pytestmark = pytest.mark.django_db

TRIPWIRE = "tripwire/beat"


def test_throttle__no_policy__creates_a_disabled_one_audited_as_tripwire():
    policy = services.throttle_domain(domain="buyer_match", reason="match_success dropped 30%", actor=TRIPWIRE)
    assert (policy.domain, policy.enabled, policy.changed_by) == ("BUYER_MATCH", False, TRIPWIRE)
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_user, event.lever, event.action, event.reason) == (
        TRIPWIRE,
        None,
        "risk",
        "policy.create",
        "Throttle: match_success dropped 30%",
    )
    assert event.before is None and event.after["enabled"] is False


def test_throttle__enabled_policy__disabled_caps_kept_and_reserves_denied(live, make_policy):
    make_policy(max_daily_actions=7)
    services.throttle_domain(domain="WHOLESALE", reason="contract_rate dropped", actor=TRIPWIRE)
    policy = RiskPolicy.objects.get()
    assert (policy.enabled, policy.max_daily_actions) == (False, 7)
    event = AuditEvent.objects.get(action="policy.update")
    assert (event.before["enabled"], event.after["enabled"], event.actor) == (True, False, TRIPWIRE)
    entry = services.reserve(domain="WHOLESALE", amount="1", actor="engine/test")
    assert entry.reason == reasons.POLICY_DISABLED


def test_set_enabled__without_reason__refused_and_nothing_written(make_policy):
    make_policy()
    with pytest.raises(InvalidInput) as raised:
        services.set_enabled(domain="WHOLESALE", enabled=False, reason="  ", actor=TRIPWIRE)
    assert raised.value.field == "reason"
    assert RiskPolicy.objects.get().enabled
    assert not AuditEvent.objects.filter(action="policy.update").exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"changed_by": "someone else"},
        {"max_daily_loss": "-1"},
        {"max_open_exposure": "NaN"},
        {"max_action_amount": "0"},
        {"reservation_ttl_seconds": 0},
    ],
)
def test_upsert_policy__bad_change__invalid_naming_field_and_nothing_written(changes):
    [field] = changes
    with pytest.raises(InvalidInput) as raised:
        services.upsert_policy(domain="WHOLESALE", changes=changes, actor=TRIPWIRE)
    assert raised.value.field == field
    assert not RiskPolicy.objects.exists() and not AuditEvent.objects.exists()


def test_upsert_policy__bad_domain__invalid_naming_domain():
    with pytest.raises(InvalidInput) as raised:
        services.upsert_policy(domain="wholesale-eu", changes={}, actor=TRIPWIRE)
    assert raised.value.field == "domain"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_daily_actions": 1_000_001}, "max_daily_actions"),
        ({"max_action_amount": "1000000000.0001"}, "max_action_amount"),
    ],
)
def test_upsert__cap_beyond_bound__invalid_naming_field_and_nothing_written(changes, field):
    with pytest.raises(InvalidInput) as raised:
        services.upsert_policy(domain="WHOLESALE", changes=changes, actor="tests/setup")
    assert raised.value.field == field
    assert not RiskPolicy.objects.exists() and not AuditEvent.objects.exists()
