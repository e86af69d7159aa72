"""Real Celery workers on the broker, and real threads on PostgreSQL: one send per delivery."""

import datetime as dt
import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from golive import services as golive
from governance_site.alerts import services
from governance_site.alerts.models import Alert, Delivery
from governance_site.alerts.tasks import deliver
from governance_site.celery import app
from tests.concurrency import race
from tests.conftest import requires_postgres

from .conftest import SETUP
from .test_delivery import assert_signed

BROKER_IS_A_SERVER = settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://"))
requires_broker = pytest.mark.skipif(
    not BROKER_IS_A_SERVER,
    reason=f"needs a Redis or RabbitMQ broker: CELERY_BROKER_URL is {settings.CELERY_BROKER_URL!r} "
    "(CI sets redis://127.0.0.1:6379/0)",
)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def delivery_status() -> str | None:
    delivery = Delivery.objects.first()
    return delivery and delivery.status


@requires_broker
@pytest.mark.django_db(transaction=True)
def test_real_worker__failure_retried_with_backoff_then_delivered_signed(receiver, webhook, settings):
    from celery.contrib.testing.worker import start_worker

    settings.ALERTS_QUEUE = f"alerts-test-{uuid.uuid4().hex}"  # other runs on the broker never take it
    settings.ALERTS_RETRY_BASE_SECONDS = 0.5
    receiver.statuses = [500]
    with start_worker(app, perform_ping_check=False, queues=[settings.ALERTS_QUEUE], shutdown_timeout=30):
        golive.set_kill_switch(engaged=True, reason="routing misbehaving", actor=SETUP)  # commits: on_commit sends
        assert wait_for(lambda: delivery_status() == "delivered")
    delivery = Delivery.objects.get()
    assert (delivery.attempts, delivery.last_status_code) == (2, 200)
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [500, 200]
    assert len(receiver.received) == 2
    for received in receiver.received:
        assert_signed(received)


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_worker(name: str, queue: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "governance_site.settings.test",
        "DATABASE_URL": _database_url(),  # the test database
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    command = [sys.executable, "-m", "celery", "-A", "governance_site", "worker", "-P", "solo", "-Q", queue,
               "-n", name, "--without-gossip", "--without-mingle", "--loglevel=WARNING"]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@requires_broker
@pytest.mark.django_db(transaction=True)
def test_two_real_workers__same_delivery_handed_over_many_times__sent_once(receiver, webhook, settings):
    queue = f"alerts-test-{uuid.uuid4().hex}"
    settings.ALERTS_QUEUE = queue
    run = uuid.uuid4().hex[:8]
    names = [f"alerts-a-{run}@localhost", f"alerts-b-{run}@localhost"]
    workers = [_start_worker(name, queue) for name in names]
    try:
        assert wait_for(lambda: len(app.control.ping(destination=names, timeout=0.5)) == 2), "workers did not start"
        golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)  # on_commit hands it over once...
        delivery = Delivery.objects.get()
        for _ in range(19):  # ...and the sweep, a redelivery, a lost ack hand it over again
            deliver.apply_async((delivery.pk,), queue=queue)
        assert wait_for(lambda: delivery_status() == "delivered")

        def handled() -> dict[str, int]:
            stats = app.control.inspect(destination=names, timeout=1).stats() or {}
            return {name: stats.get(name, {}).get("total", {}).get(deliver.name, 0) for name in names}

        assert wait_for(lambda: sum(handled().values()) == 20), handled()
        counts = handled()
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
    print("deliver tasks run per worker:", counts)
    assert all(counts.values()), f"both workers should have taken some: {counts}"
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.attempt_log.count()) == (1, 1)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_threads__eight_workers_attempt_one_delivery_at_once__sent_once(receiver, webhook):
    golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)
    delivery = Delivery.objects.get()
    race(lambda i: services.attempt_delivery(delivery_id=delivery.pk), threads=8)
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_threads__four_sweeps_at_once__one_reminder(webhook, settings):
    settings.ALERTS_RESEND_INTERVAL_SECONDS = 60
    golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)
    later = timezone.now() + dt.timedelta(minutes=2)
    assert sum(race(lambda i: services.resend_unacknowledged(now=later), threads=4)) == 1
    assert Alert.objects.get().sends == 2
    assert list(Delivery.objects.order_by("round").values_list("round", flat=True)) == [0, 1]
