"""Acknowledgement (audited; required before a tripwire reset), the review's order, re-sent criticals."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from golive import services as golive
from governance_site.alerts import reasons, selectors, services
from governance_site.alerts.models import Alert, Delivery, Severity
from governance_site.audit.models import AuditEvent
from governance_site.errors import Conflict, InvalidInput
from regression import services as regression
from tests.regression.conftest import outcomes

from .conftest import SETUP

pytestmark = pytest.mark.django_db
REVIEW = "/api/governance/review"


def engaged_alert() -> Alert:
    golive.set_kill_switch(engaged=True, reason="routing misbehaving", actor=SETUP)
    return Alert.objects.get(event="kill_switch.engage")


def test_acknowledge__who_when_note_and_audited(operator):
    alert = engaged_alert()
    done = services.acknowledge(alert_id=alert.pk, note="paging the routing team", actor=operator)
    assert (done.acknowledged_by, done.ack_note, done.unacknowledged) == ("op", "paging the routing team", False)
    event = AuditEvent.objects.get(action="alert.acknowledge")
    assert (event.actor, event.lever, event.reason, event.object_id) == ("op", "golive", "paging the routing team",
                                                                         str(alert.pk))  # fmt: skip
    assert event.before["acknowledged_at"] is None and event.after["acknowledged_by"] == "op"
    assert not Alert.objects.filter(event="alert.acknowledge").exists()  # acknowledging raises no alert


def test_acknowledge__twice_or_an_info_alert__conflict_and_blank_note__invalid(operator):
    alert = engaged_alert()
    with pytest.raises(InvalidInput) as blank:
        services.acknowledge(alert_id=alert.pk, note="  ", actor=operator)
    assert blank.value.field == "note"
    services.acknowledge(alert_id=alert.pk, note="seen", actor=operator)
    with pytest.raises(Conflict) as twice:
        services.acknowledge(alert_id=alert.pk, note="seen again", actor=operator)
    assert twice.value.reason == reasons.ALREADY_ACKNOWLEDGED
    golive.set_kill_switch(engaged=False, reason="fixed", actor=operator)
    with pytest.raises(Conflict) as info:
        services.acknowledge(alert_id=Alert.objects.get(event="kill_switch.release").pk, note="x", actor=operator)
    assert info.value.reason == reasons.NO_ACKNOWLEDGEMENT_NEEDED
    assert AuditEvent.objects.filter(action="alert.acknowledge").count() == 1


def test_api__operators_acknowledge_viewers_may_not_unknown_is_404(api, operator, viewer):
    alert = engaged_alert()
    url = f"/api/governance/alerts/{alert.pk}/acknowledge"
    assert api(viewer).post(url, {"note": "x"}, format="json").status_code == 403
    assert api(operator).post("/api/governance/alerts/999/acknowledge", {"note": "x"}, format="json").status_code == 404
    missing = api(operator).post(url, {}, format="json")
    assert (missing.status_code, missing.json()["field"]) == (400, "note")
    assert api(operator).post(url, {"note": "x"}, format="json").status_code == 200
    again = api(operator).post(url, {"note": "x"}, format="json")
    assert (again.status_code, again.json()["reason"]) == (409, "already_acknowledged")
    listed = api(viewer).get("/api/governance/alerts?unacknowledged=true").json()
    assert listed["results"] == []


def test_reset__refused_until_acknowledged_then_allowed(operator, tripwire, feed, wholesale_risk):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    state = regression.evaluate(domain="WHOLESALE", metric="contract_rate", actor=SETUP)
    with pytest.raises(Conflict) as refusal:
        regression.reset(domain="WHOLESALE", metric="contract_rate", reason="retrained", actor=operator)
    assert refusal.value.reason == reasons.NOT_ACKNOWLEDGED
    assert "acknowledge it first" in refusal.value.detail
    assert not AuditEvent.objects.filter(action="tripwire.reset").exists()
    [alert] = selectors.unacknowledged_for(state)
    services.acknowledge(alert_id=alert.pk, note="retraining", actor=operator)
    state = regression.reset(domain="WHOLESALE", metric="contract_rate", reason="retrained", actor=operator)
    assert not state.triggered


def test_review__unacknowledged_tripwires_first_and_the_alerts_awaiting(api, operator, tripwire, feed, wholesale_risk):
    for metric in ("contract_rate", "repeat_rate"):  # contract_rate fires first, repeat_rate is newest
        tripwire(metric=metric)
        feed(outcomes(200, 200) + outcomes(0, 50), metric=metric)
        regression.evaluate(domain="WHOLESALE", metric=metric, actor=SETUP)
    newest = Alert.objects.get(event="tripwire.trigger", title__contains="repeat_rate")
    services.acknowledge(alert_id=newest.pk, note="known", actor=operator)
    review = api(operator).get(REVIEW).json()
    order = [(t["metric"], t["unacknowledged_alert_id"] is None) for t in review["triggered_tripwires"]]
    assert order == [("contract_rate", False), ("repeat_rate", True)]
    awaiting = [a["title"] for a in review["unacknowledged_alerts"]]
    assert awaiting == ["Tripwire WHOLESALE.contract_rate triggered"]
    assert review["go_live"]["unacknowledged_alert_id"] is None


def test_resend__unacknowledged_critical_sent_again_each_interval_until_acknowledged(operator, webhook, settings):
    settings.ALERTS_RESEND_INTERVAL_SECONDS = 600
    alert = engaged_alert()
    now = timezone.now()
    assert services.resend_unacknowledged(now=now + dt.timedelta(seconds=599)) == 0
    assert services.resend_unacknowledged(now=now + dt.timedelta(seconds=601)) == 1
    assert services.resend_unacknowledged(now=now + dt.timedelta(seconds=602)) == 0  # once per interval
    assert services.resend_unacknowledged(now=now + dt.timedelta(seconds=1202)) == 1
    assert list(alert.deliveries.order_by("round").values_list("round", flat=True)) == [0, 1, 2]
    alert.refresh_from_db()
    assert alert.sends == 3
    services.acknowledge(alert_id=alert.pk, note="on it", actor=operator)
    assert services.resend_unacknowledged(now=now + dt.timedelta(days=1)) == 0


def test_resend__reminder_says_so_and_only_critical_alerts_are_resent(receiver, webhook, settings, tripwire, feed,
                                                                      wholesale_risk):  # fmt: skip
    settings.ALERTS_RESEND_INTERVAL_SECONDS = 60
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    regression.evaluate(domain="WHOLESALE", metric="contract_rate", actor=SETUP)  # high: never re-sent
    engaged_alert()
    later = timezone.now() + dt.timedelta(minutes=2)
    assert services.resend_unacknowledged(now=later) == 1
    reminder = Delivery.objects.get(round=1)
    assert reminder.alert.severity == Severity.CRITICAL
    services.attempt_delivery(delivery_id=reminder.pk, now=later)
    body = json.loads(receiver.received[-1].body)
    assert (body["event"], body["reminder"], body["acknowledged"]) == ("kill_switch.engage", 1, False)


def test_sweep_schedule__migration__every_minute_runs_the_registered_task():
    from django_celery_beat.models import PeriodicTask

    from governance_site.alerts import tasks
    from governance_site.celery import app

    task = PeriodicTask.objects.get(name="alerts: re-send and dispatch")
    assert (task.enabled, task.interval.every, task.interval.period) == (True, 1, "minutes")
    assert task.task == tasks.sweep.name and task.task in app.tasks
