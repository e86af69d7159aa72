"""Engine heartbeats: cancel-on-disconnect, refused until it beats again, every step audited."""

import pytest

from golive import reasons, services, tasks
from golive.models import EngineHeartbeat
from governance_site.audit.models import AuditEvent
from risk import services as risk
from risk.models import DailyTotals, Reservation, Status

pytestmark = pytest.mark.django_db

BEAT = "/api/governance/go-live/heartbeat"


def test_beat__first__registers_audited(api, engine):
    response = api(engine).post(BEAT, {"max_silence_seconds": 20}, format="json")
    assert response.status_code == 200
    assert (response.json()["engine"], response.json()["max_silence_seconds"]) == ("engine-bot", 20)
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.lever) == ("heartbeat.register", "engine-bot", "golive")


def test_beat__plain_beats__not_audited(engine):
    services.beat(actor=engine)
    services.beat(actor=engine)
    assert AuditEvent.objects.count() == 1


def test_beat__bad_allowance__400_naming_field(api, engine):
    response = api(engine).post(BEAT, {"max_silence_seconds": 0}, format="json")
    assert (response.status_code, response.json()["field"]) == (400, "max_silence_seconds")
    assert not EngineHeartbeat.objects.exists()


def test_beat__viewer__403(api, viewer):
    assert api(viewer).post(BEAT, {}, format="json").status_code == 403


def test_silent_engine__cancelled_refused_until_it_beats_again(live, make_policy, clock):
    make_policy()
    services.beat(actor="engine-a", max_silence_seconds=30)
    services.beat(actor="engine-b", max_silence_seconds=30)
    mine = risk.reserve(domain="WHOLESALE", amount="100", actor="engine-a")
    theirs = risk.reserve(domain="WHOLESALE", amount="50", actor="engine-b")
    clock.advance(seconds=20)
    services.beat(actor="engine-b")
    assert tasks.disconnect_silent_engines() == []  # 20s of silence is allowed
    clock.advance(seconds=11)
    # Refused as soon as it is overdue, before the beat task runs.
    assert services.may_execute(engine="engine-a").reason == reasons.HEARTBEAT_MISSED
    assert tasks.disconnect_silent_engines() == ["engine-a"]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, mine.reason, theirs.status) == (Status.CANCELLED, "heartbeat_missed", Status.RESERVED)
    assert mine.detail.startswith("heartbeat_missed, scope: engine engine-a: Cancel-on-disconnect")
    assert DailyTotals.objects.get().open_exposure == 50
    denied = risk.reserve(domain="WHOLESALE", amount="1", actor="engine-a")
    assert (denied.reason, denied.detail.split(":")[0]) == ("heartbeat_missed", "heartbeat_missed, scope")
    assert [e.action for e in AuditEvent.objects.filter(actor="heartbeat/beat").order_by("id")] == [
        "heartbeat.lapse",
        "reservations.cancel",
    ]
    assert tasks.disconnect_silent_engines() == []  # once
    services.beat(actor="engine-a")
    assert AuditEvent.objects.filter(action="heartbeat.resume", actor="engine-a").exists()
    assert risk.reserve(domain="WHOLESALE", amount="1", actor="engine-a").ok


def test_unregistered_engine__never_refused_for_heartbeat(live):
    assert services.may_execute(engine="engine-never-registered").ok


def test_check_api__silent_engine__423_heartbeat_missed(api, engine, live, clock):
    services.beat(actor=engine, max_silence_seconds=5)
    clock.advance(seconds=6)
    response = api(engine).get("/api/governance/go-live/check")
    assert (response.status_code, response.json()["reason"], response.json()["scope"]) == (
        423, "heartbeat_missed", "engine engine-bot",
    )  # fmt: skip
    assert Reservation.objects.count() == 0


def test_schedule__migration__every_10_seconds_runs_the_registered_task():
    import importlib

    from django_celery_beat.models import PeriodicTask

    from governance_site.celery import app

    migration = importlib.import_module("golive.migrations.0004_heartbeat_schedule")
    task = PeriodicTask.objects.get(name=migration.TASK_NAME)
    assert task.enabled and (task.interval.every, task.interval.period) == (10, "seconds")
    assert task.task == tasks.disconnect_silent_engines.name and task.task in app.tasks


def test_lapse_and_scoped_kill__alerts_raised(live, make_policy, clock, operator):
    from governance_site.alerts.models import Alert

    make_policy()
    services.beat(actor="engine-a", max_silence_seconds=5)
    risk.reserve(domain="WHOLESALE", amount="10", actor="engine-a")
    clock.advance(seconds=6)
    tasks.disconnect_silent_engines()
    services.set_kill_switch(engaged=True, scope="domain", target="CAPITAL", reason="r", actor=operator)
    titles = set(Alert.objects.values_list("title", flat=True))
    assert {
        "Engine disconnected, its open reservations cancelled (heartbeat engine-a)",
        "Open reservations cancelled (heartbeat engine-a)",
        "Kill switch engaged: domain CAPITAL",
    } <= titles
