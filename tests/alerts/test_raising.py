"""Which changes raise which alert, in the change's own transaction, to which destinations."""

import pytest
from django.db import transaction

from golive import services as golive
from governance_site.alerts import rules
from governance_site.alerts.models import Alert, Delivery, Destination, DestinationKind, Severity
from governance_site.audit.models import AuditEvent
from regression import services as regression
from risk import services as risk
from tests.regression.conftest import outcomes

from .conftest import SETUP

pytestmark = pytest.mark.django_db


def test_kill_switch_engaged__one_critical_alert_awaiting_ack_with_a_delivery(webhook):
    golive.set_kill_switch(engaged=True, reason="routing misbehaving", actor=SETUP)
    alert = Alert.objects.get()
    event = AuditEvent.objects.get(action="kill_switch.engage")
    assert (alert.audit_event, alert.severity, alert.title) == (event, Severity.CRITICAL, "Kill switch engaged")
    assert (alert.lever, alert.object_type, alert.object_id) == ("golive", "golive.golivestate", "1")
    assert (alert.actor, alert.reason, alert.requires_ack, alert.unacknowledged) == (
        SETUP, "routing misbehaving", True, True,
    )  # fmt: skip
    delivery = Delivery.objects.get()
    assert (delivery.alert, delivery.destination, delivery.round, delivery.status) == (alert, webhook, 0, "pending")


def test_tripwire_throttles__high_alerts_for_the_trigger_and_the_throttle(tripwire, feed, wholesale_risk):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    state = regression.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tripwire/beat")
    trigger = Alert.objects.get(event="tripwire.trigger")
    assert (trigger.severity, trigger.requires_ack, trigger.object_id) == (Severity.HIGH, True, str(state.pk))
    assert trigger.title == "Tripwire WHOLESALE.contract_rate triggered"
    throttle = Alert.objects.get(event="policy.update")
    assert (throttle.severity, throttle.lever, throttle.requires_ack) == (Severity.HIGH, "risk", False)
    assert "throttled" in throttle.title


def test_risk_policy_re_enabled__info_and_a_cap_edit__no_alert(wholesale_risk):
    risk.upsert_policy(domain="WHOLESALE", changes={"max_daily_actions": 5}, actor=SETUP, reason="tighter")
    assert not Alert.objects.exists()
    risk.set_enabled(domain="WHOLESALE", enabled=False, reason="pause", actor=SETUP)
    risk.set_enabled(domain="WHOLESALE", enabled=True, reason="back", actor=SETUP)
    assert list(Alert.objects.order_by("id").values_list("severity", flat=True)) == ["high", "info"]


@pytest.mark.parametrize(
    ("action", "severity"),
    [("kill_switch.release", "info"), ("go_live.enable", "info"), ("go_live.disable", "info")],
)
def test_go_live_and_release__info(action, severity):
    golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)
    golive.set_kill_switch(engaged=False, reason="x", actor=SETUP)
    golive.set_go_live(enabled=True, reason="x", actor=SETUP)
    golive.set_go_live(enabled=False, reason="x", actor=SETUP)
    assert Alert.objects.get(event=action).severity == severity


def test_change_rolled_back__no_alert_no_delivery(webhook):
    with pytest.raises(RuntimeError), transaction.atomic():
        golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)
        raise RuntimeError("the caller's transaction fails after the change")
    assert not Alert.objects.exists() and not Delivery.objects.exists()


def test_filters__severity_lever_and_pause_choose_the_destinations(webhook):
    make = Destination.objects.create
    critical_only = make(name="critical", kind=DestinationKind.SLACK, url="http://x/", min_severity=Severity.CRITICAL)
    risk_only = make(name="risk", kind=DestinationKind.SLACK, url="http://x/", levers=["risk"])
    make(name="paused", kind=DestinationKind.SLACK, url="http://x/", paused=True)
    golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)  # critical, golive
    golive.set_kill_switch(engaged=False, reason="x", actor=SETUP)  # info, golive
    engaged, released = Alert.objects.order_by("id")
    assert {d.destination for d in engaged.deliveries.all()} == {webhook, critical_only}
    assert {d.destination for d in released.deliveries.all()} == {webhook}
    assert risk_only.deliveries.count() == 0


def test_alert_rule_raises__the_change_still_commits_without_its_alert(webhook, monkeypatch, caplog):
    def broken(event):
        raise KeyError("a bug in a rule")

    monkeypatch.setattr(rules, "rule_for", broken)
    with pytest.raises(KeyError):
        rules.rule_for(None)
    monkeypatch.setattr(rules, "rule_for", lambda event: rules.Rule(Severity.INFO, "{missing}"))
    state = golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)
    assert state.kill_switch_engaged and AuditEvent.objects.filter(action="kill_switch.engage").exists()
    assert not Alert.objects.exists()
    assert "No alert for audit event" in caplog.text
