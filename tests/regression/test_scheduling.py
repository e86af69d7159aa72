"""The beat schedule, the Celery task (eagerly and on a real worker), the management command."""

import importlib
import io
import time
import uuid

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from governance_site.celery import app
from regression import reasons, tasks
from regression.models import RegressionState
from risk.models import RiskPolicy

from .conftest import outcomes

pytestmark = pytest.mark.django_db

schedule_migration = importlib.import_module("regression.migrations.0003_evaluate_schedule")
BROKER_IS_A_SERVER = settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://"))


def wholesale_state() -> RegressionState:
    return RegressionState.objects.get(policy__domain="WHOLESALE", policy__metric="contract_rate")


def test_schedule__migration__every_5_minutes_runs_the_registered_task():
    task = PeriodicTask.objects.get(name=schedule_migration.TASK_NAME)
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (5, "minutes")
    assert task.task == tasks.evaluate_tripwires.name
    assert task.task in app.tasks


def test_schedule__migration_again__operators_edit_survives():
    task = PeriodicTask.objects.get(name=schedule_migration.TASK_NAME)
    task.interval.every = 15
    task.interval.save()
    task.enabled = False
    task.save()
    schedule_migration.schedule_evaluation(apps, None)
    task.refresh_from_db()
    assert (task.interval.every, task.enabled) == (15, False)
    assert PeriodicTask.objects.filter(name=schedule_migration.TASK_NAME).count() == 1


def test_task__eager__evaluates_enabled_policies_as_tripwire_beat(tripwire, feed, wholesale_risk):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    assert tasks.evaluate_tripwires.apply().get() == {"WHOLESALE.contract_rate": "triggered"}
    state = wholesale_state()
    assert (state.evaluated_by, state.action_taken) == (reasons.BEAT_ACTOR, "THROTTLE")


def test_command__one_policy__evaluated_as_tripwire_cli(tripwire, feed):
    tripwire(enabled=False)
    feed(outcomes(250, 250))
    out = io.StringIO()
    call_command("evaluate_tripwires", "--domain", "wholesale", "--metric", "contract_rate", stdout=out)
    assert out.getvalue() == "WHOLESALE.contract_rate: disabled\n"
    assert wholesale_state().evaluated_by == reasons.CLI_ACTOR


def test_command__all__every_enabled_policy(tripwire):
    tripwire()
    out = io.StringIO()
    call_command("evaluate_tripwires", stdout=out)
    assert out.getvalue() == "WHOLESALE.contract_rate: insufficient_data\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain", "WHOLESALE"], "both --domain and --metric"),
        (["--domain", "WHOLESALE", "--metric", "nope"], "No regression policy for WHOLESALE.nope"),
        (["--domain", "bad domain!", "--metric", "x"], "must be upper-case"),
    ],
)
def test_command__bad_arguments__error(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("evaluate_tripwires", *args, stdout=io.StringIO())


def test_command__an_evaluation_fails__error_after_the_others(tripwire, monkeypatch):
    tripwire()
    monkeypatch.setattr("regression.services.selectors.kpi_window", lambda *a, **k: 1 / 0)
    with pytest.raises(CommandError, match="WHOLESALE.contract_rate"):
        call_command("evaluate_tripwires", stdout=io.StringIO())


@pytest.mark.skipif(
    not BROKER_IS_A_SERVER,
    reason=f"needs a Redis or RabbitMQ broker: CELERY_BROKER_URL is {settings.CELERY_BROKER_URL!r} "
    "(CI sets redis://127.0.0.1:6379/0)",
)
@pytest.mark.django_db(transaction=True)
def test_beat_task__real_worker_on_the_broker__triggers_and_acts(tripwire, feed, wholesale_risk):
    from celery.contrib.testing.worker import start_worker

    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    queue = f"regression-test-{uuid.uuid4().hex}"  # other test runs on the same broker never take it
    with start_worker(app, perform_ping_check=False, queues=[queue], shutdown_timeout=30):
        # By name, as beat sends it (the schedule's task name is checked above; a transactional
        # test's flush has emptied the schedule table by now).
        app.send_task(tasks.evaluate_tripwires.name, queue=queue)
        deadline = time.monotonic() + 30
        while wholesale_state().evaluated_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
    state = wholesale_state()
    assert (state.status, state.evaluated_by, state.action_taken) == ("triggered", reasons.BEAT_ACTOR, "THROTTLE")
    assert not RiskPolicy.objects.get(domain="WHOLESALE").enabled


@pytest.mark.skipif(
    not BROKER_IS_A_SERVER,
    reason=f"needs a Redis or RabbitMQ broker: CELERY_BROKER_URL is {settings.CELERY_BROKER_URL!r} "
    "(CI sets redis://127.0.0.1:6379/0)",
)
@pytest.mark.django_db(transaction=True)
def test_ingest__real_worker__evaluation_enqueued_after_commit_triggers(tripwire, feed, wholesale_risk, monkeypatch):
    from celery.contrib.testing.worker import start_worker

    tripwire()
    queue = f"regression-test-{uuid.uuid4().hex}"
    send = tasks.evaluate_tripwire.apply_async
    monkeypatch.setattr(tasks.evaluate_tripwire, "delay", lambda state_id: send((state_id,), queue=queue))
    with start_worker(app, perform_ping_check=False, queues=[queue], shutdown_timeout=30):
        feed(outcomes(200, 200) + outcomes(0, 50))  # committed: the evaluation is enqueued after it
        deadline = time.monotonic() + 30
        while wholesale_state().evaluated_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
    state = wholesale_state()
    assert (state.status, state.evaluated_by, state.evaluation_queued) == ("triggered", reasons.INGEST_ACTOR, False)
    assert not RiskPolicy.objects.get(domain="WHOLESALE").enabled
