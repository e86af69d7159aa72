"""Real threads against PostgreSQL: caps and idempotency hold however many reserves race."""

import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import transaction

from golive import services as golive
from risk import reasons, selectors, services
from risk.models import DailyTotals, Reservation, RiskPolicy, Status
from tests import concurrency
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

THREADS = 32


def race(work, threads=THREADS):
    return concurrency.race(work, threads)


def reserve(amount="100", **extra):
    return services.reserve(domain="WHOLESALE", amount=amount, actor="engine/race", **extra)


def test_32_concurrent_reserves__max_daily_actions_10__exactly_10_approved(live, make_policy):
    make_policy(max_daily_actions=10, max_open_exposure="1000000")
    decisions = Counter(entry.reason or "approved" for entry in race(lambda i: reserve()))
    assert decisions == {"approved": 10, reasons.MAX_DAILY_ACTIONS: 22}
    assert Reservation.objects.filter(status=Status.RESERVED).count() == 10
    assert DailyTotals.objects.get().approved_count == 10


def test_32_concurrent_reserves__max_open_exposure_1000__exactly_10_approved(live, make_policy):
    make_policy(max_daily_actions=1000, max_open_exposure="1000")
    decisions = Counter(entry.reason or "approved" for entry in race(lambda i: reserve("100")))
    assert decisions == {"approved": 10, reasons.MAX_OPEN_EXPOSURE: 22}
    assert DailyTotals.objects.get().open_exposure == Decimal(1000)


def test_32_racing_retries__one_idempotency_key__one_reservation(live, make_policy):
    make_policy()
    entries = race(lambda i: reserve("100", idempotency_key="retry-me", ref="offer-1"))
    assert len({entry.pk for entry in entries}) == 1
    assert Reservation.objects.count() == 1
    assert DailyTotals.objects.get().approved_count == 1


def test_racing_retries__denied_decision__one_entry(make_policy):
    golive.get_state()  # production off: every one is denied, so the unique key alone decides
    make_policy()
    entries = race(lambda i: reserve("100", idempotency_key="retry-me"))
    assert {(entry.pk, entry.reason) for entry in entries} == {(entries[0].pk, "go_live_disabled")}
    assert Reservation.objects.count() == 1


def test_concurrent_reserve_settle_release__totals_agree_with_entries(live, make_policy):
    make_policy(max_daily_actions=1000, max_open_exposure="500")

    def work(i):
        for n in range(4):
            entry = reserve("50")
            if not entry.ok:
                continue
            if (i + n) % 2:
                services.settle(reservation_id=entry.pk, realized_pnl=str(i - n), actor="engine/race")
            else:
                services.release(reservation_id=entry.pk, actor="engine/race")

    race(work, threads=16)
    [day] = selectors.ledger()["domains"]
    totals = DailyTotals.objects.get()
    assert (totals.approved_count, totals.open_exposure, totals.realized_pnl) == (
        day["approved_count"],
        day["open_exposure"],
        day["realized_pnl"],
    )
    assert day["open_exposure"] == 0 and day["approved_count"] == day["settled_count"] + day["released_count"]


def test_reserve_waiting_for_the_domain_lock__kill_switch_engaged_meanwhile__denied(live, make_policy, operator):
    """A reserve queued behind another one on the domain's lock reads the switch after the lock."""
    make_policy()
    lock_held = threading.Event()

    def work(i):
        if i == 0:  # another reserve in flight: holds the domain's policy row until the kill commits
            with transaction.atomic():
                RiskPolicy.objects.select_for_update().get(domain="WHOLESALE")
                lock_held.set()
                deadline = time.monotonic() + 10
                while golive.may_execute().ok and time.monotonic() < deadline:
                    time.sleep(0.05)  # each read sees what has committed (READ COMMITTED)
            return None
        lock_held.wait(timeout=10)
        return reserve("100")

    def engage_when_waiting():
        lock_held.wait(timeout=10)
        time.sleep(0.3)  # let the reserve reach the lock
        # Commits the kill, then cancels the covered reservations (waiting for the domain's lock).
        golive.set_kill_switch(engaged=True, reason="test: stop", actor=operator)

    engager = threading.Thread(target=engage_when_waiting)
    engager.start()
    _, entry = race(work, threads=2)
    engager.join()
    assert (entry.status, entry.reason) == (Status.DENIED, "kill_switch")
