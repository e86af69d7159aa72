import datetime as dt
import importlib
import time
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from governance_site.celery import app
from governance_site.errors import Conflict, InvalidInput, NotFound
from risk import reasons, services, tasks
from risk.models import DailyTotals, Reservation, Status

pytestmark = pytest.mark.django_db

schedule_migration = importlib.import_module("risk.migrations.0002_expiry_schedule")

ENGINE = "engine/test"


@pytest.fixture
def entry(live, make_policy):
    make_policy(max_open_exposure="100", reservation_ttl_seconds=60)
    return services.reserve(domain="WHOLESALE", amount="100", actor=ENGINE)


def totals():
    return DailyTotals.objects.get(domain="WHOLESALE")


def test_settle__open__settled_exposure_freed_pnl_booked(entry):
    settled = services.settle(reservation_id=entry.pk, realized_pnl="-12.5", actor=ENGINE)
    assert (settled.status, settled.realized_pnl, settled.settled_by) == (
        Status.SETTLED,
        Decimal("-12.5"),
        ENGINE,
    )
    assert settled.settled_at is not None
    assert (totals().open_exposure, totals().realized_pnl, totals().net_loss) == (0, Decimal("-12.5"), Decimal("12.5"))


def test_settle__twice_same_pnl__same_result_booked_once(entry):
    first = services.settle(reservation_id=entry.pk, realized_pnl="7", actor=ENGINE)
    again = services.settle(reservation_id=entry.pk, realized_pnl="7.0000", actor=ENGINE)
    assert (again.pk, again.status, again.realized_pnl, again.settled_at) == (
        first.pk,
        first.status,
        first.realized_pnl,
        first.settled_at,
    )
    assert (totals().realized_pnl, totals().open_exposure) == (Decimal(7), 0)


@pytest.mark.parametrize(
    "change",
    [
        lambda pk: services.settle(reservation_id=pk, realized_pnl="8", actor=ENGINE),
        lambda pk: services.release(reservation_id=pk, actor=ENGINE),
    ],
    ids=["settle-other-pnl", "release"],
)
def test_settled__any_other_change__conflict_and_nothing_changes(entry, change):
    services.settle(reservation_id=entry.pk, realized_pnl="7", actor=ENGINE)
    with pytest.raises(Conflict) as raised:
        change(entry.pk)
    assert raised.value.reason == reasons.RESERVATION_CLOSED
    assert Reservation.objects.get(pk=entry.pk).realized_pnl == Decimal(7)
    assert totals().realized_pnl == Decimal(7)


def test_release__open__exposure_freed_no_pnl_and_twice_same(entry):
    released = services.release(reservation_id=entry.pk, actor=ENGINE)
    assert (released.status, released.realized_pnl) == (Status.RELEASED, None)
    assert services.release(reservation_id=entry.pk, actor=ENGINE).settled_at == released.settled_at
    assert (totals().open_exposure, totals().realized_pnl) == (0, 0)
    with pytest.raises(Conflict):
        services.settle(reservation_id=entry.pk, realized_pnl="1", actor=ENGINE)


def test_settle__denied_entry__conflict(operator, make_policy):
    make_policy()
    denied = services.reserve(domain="WHOLESALE", amount="1", actor=ENGINE)  # go-live is off
    with pytest.raises(Conflict):
        services.settle(reservation_id=denied.pk, realized_pnl="1", actor=ENGINE)


def test_settle__unknown_id__not_found():
    with pytest.raises(NotFound) as raised:
        services.settle(reservation_id=987654, realized_pnl="1", actor=ENGINE)
    assert raised.value.field == "reservation_id"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"realized_pnl": "NaN"}, "realized_pnl"),
        ({"realized_pnl": None}, "realized_pnl"),
        ({"realized_pnl": "x"}, "realized_pnl"),
        ({"reservation_id": "abc"}, "reservation_id"),
        ({"reservation_id": 2**63}, "reservation_id"),
    ],
)
def test_settle__bad_input__invalid_naming_field(entry, kwargs, field):
    with pytest.raises(InvalidInput) as raised:
        services.settle(**{"reservation_id": entry.pk, "realized_pnl": "1", "actor": ENGINE, **kwargs})
    assert raised.value.field == field
    assert Reservation.objects.get(pk=entry.pk).status == Status.RESERVED


def test_settle__past_expiry__conflict_expired(entry, clock):
    clock.advance(seconds=61)
    with pytest.raises(Conflict) as raised:
        services.settle(reservation_id=entry.pk, realized_pnl="1", actor=ENGINE)
    assert raised.value.reason == reasons.RESERVATION_EXPIRED


def test_expire_due__past_expiry__expired_and_exposure_freed(entry, clock):
    assert services.expire_due() == 0
    clock.advance(seconds=60)
    assert services.expire_due() == 1
    expired = Reservation.objects.get(pk=entry.pk)
    assert (expired.status, expired.settled_by, expired.settled_at) == (
        Status.EXPIRED,
        services.EXPIRY_ACTOR,
        clock.now,
    )
    assert totals().open_exposure == 0
    assert services.expire_due() == 0
    with pytest.raises(Conflict):
        services.settle(reservation_id=entry.pk, realized_pnl="1", actor=ENGINE)


def test_reserve__needs_room_held_by_due_reservation__expires_it_lazily(entry, clock):
    assert services.reserve(domain="WHOLESALE", amount="1", actor=ENGINE).reason == reasons.MAX_OPEN_EXPOSURE
    clock.advance(seconds=60)
    assert services.reserve(domain="WHOLESALE", amount="100", actor=ENGINE).ok
    assert Reservation.objects.get(pk=entry.pk).status == Status.EXPIRED


def test_expiry__reservation_from_yesterday__frees_yesterdays_totals(live, make_policy, clock):
    clock.set(dt.datetime(2026, 3, 9, 23, 59, tzinfo=dt.UTC))
    make_policy(max_open_exposure="100", reservation_ttl_seconds=120)
    services.reserve(domain="WHOLESALE", amount="100", actor=ENGINE)
    clock.advance(minutes=1)  # the next business day: yesterday's reservation still holds the room
    assert services.reserve(domain="WHOLESALE", amount="1", actor=ENGINE).reason == reasons.MAX_OPEN_EXPOSURE
    clock.advance(minutes=1)
    assert tasks.expire_due_reservations.apply().get() == 1
    assert [t.open_exposure for t in DailyTotals.objects.order_by("business_date")] == [0, 0]
    assert services.reserve(domain="WHOLESALE", amount="100", actor=ENGINE).ok


def test_expiry_task__scheduled_every_minute_by_migration():
    task = PeriodicTask.objects.get(name=schedule_migration.TASK_NAME)
    assert (task.enabled, task.interval.every, task.interval.period) == (True, 1, "minutes")
    assert task.task == tasks.expire_due_reservations.name
    assert task.task in app.tasks


def test_expiry_schedule__migration_again__operators_edit_survives():
    task = PeriodicTask.objects.get(name=schedule_migration.TASK_NAME)
    task.enabled = False
    task.save()
    schedule_migration.schedule_expiry(apps, None)
    assert PeriodicTask.objects.get(name=schedule_migration.TASK_NAME).enabled is False
    assert PeriodicTask.objects.filter(name=schedule_migration.TASK_NAME).count() == 1


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://")),
    reason=f"needs a Redis or RabbitMQ broker: CELERY_BROKER_URL is {settings.CELERY_BROKER_URL!r} "
    "(CI sets redis://127.0.0.1:6379/0)",
)
@pytest.mark.django_db(transaction=True)
def test_expiry_task__real_worker_on_the_broker__expires_and_frees_exposure(live, make_policy):
    from celery.contrib.testing.worker import start_worker

    make_policy(reservation_ttl_seconds=1)
    entry = services.reserve(domain="WHOLESALE", amount="100", actor=ENGINE)
    time.sleep(1.1)
    queue = f"risk-test-{uuid.uuid4().hex}"  # other runs on the same broker never take it
    with start_worker(app, perform_ping_check=False, queues=[queue], shutdown_timeout=30):
        app.send_task(tasks.EXPIRE_TASK, queue=queue)  # by name, as beat sends it
        deadline = time.monotonic() + 30
        while Reservation.objects.get(pk=entry.pk).is_open and time.monotonic() < deadline:
            time.sleep(0.1)
    assert Reservation.objects.get(pk=entry.pk).status == Status.EXPIRED
    assert totals().open_exposure == 0


# Bounds: the day's totals can never overflow their DecimalField ----------------------------


@pytest.mark.parametrize("pnl", ["-1000000000.0001", "1000000000.0001", "-9999999999999999"])
def test_settle__pnl_beyond_bound__invalid_naming_realized_pnl_and_nothing_booked(entry, pnl):
    with pytest.raises(InvalidInput) as raised:
        services.settle(reservation_id=entry.pk, realized_pnl=pnl, actor=ENGINE)
    assert raised.value.field == "realized_pnl"
    assert Reservation.objects.get().status == Status.RESERVED
    assert (totals().realized_pnl, totals().open_exposure) == (0, Decimal(100))


def test_settle__largest_pnls_on_the_largest_day__totals_hold(live, make_policy):
    """The bound's arithmetic: MAX_DAILY_ACTIONS settles of ±MAX_AMOUNT fit the totals' digits
    (checked on a few, then the total at its worst set directly and one more settle booked)."""
    from risk.models import MAX_AMOUNT, MAX_DAILY_ACTIONS, MAX_TOTAL

    make_policy(max_daily_actions=MAX_DAILY_ACTIONS, max_action_amount=str(MAX_AMOUNT), max_open_exposure="1e12")
    entries = [services.reserve(domain="WHOLESALE", amount=str(MAX_AMOUNT), actor=ENGINE) for _ in range(2)]
    services.settle(reservation_id=entries[0].pk, realized_pnl=str(-MAX_AMOUNT), actor=ENGINE)
    DailyTotals.objects.filter(domain="WHOLESALE").update(realized_pnl=-MAX_TOTAL + MAX_AMOUNT)
    services.settle(reservation_id=entries[1].pk, realized_pnl=str(-MAX_AMOUNT), actor=ENGINE)
    assert totals().realized_pnl == -MAX_TOTAL
    assert len(str(int(MAX_TOTAL))) <= 16  # DecimalField(max_digits=20, decimal_places=4)


@pytest.mark.parametrize("close", ["settle", "release"])
def test_close__by_another_principal__forbidden_and_unchanged(entry, close):
    from governance_site.errors import Forbidden

    with pytest.raises(Forbidden) as raised:
        if close == "settle":
            services.settle(reservation_id=entry.pk, realized_pnl="1", actor="engine/other")
        else:
            services.release(reservation_id=entry.pk, actor="engine/other")
    assert (raised.value.field, raised.value.reason) == ("reservation_id", reasons.NOT_RESERVATION_OWNER)
    assert (Reservation.objects.get().status, totals().open_exposure) == (Status.RESERVED, Decimal(100))


def test_close__by_an_operator__allowed_and_recorded_as_closer(entry, operator):
    released = services.release(reservation_id=entry.pk, actor=operator)
    assert (released.status, released.settled_by) == (Status.RELEASED, "op")
