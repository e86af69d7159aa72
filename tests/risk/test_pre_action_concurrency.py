"""Real threads against PostgreSQL: 16 clients at once, every counted limit holds exactly, and a
kill racing reserves leaves nothing open."""

from collections import Counter
from decimal import Decimal

import pytest

from golive import services as golive
from risk import reasons, services
from risk.models import DailyTotals, Reservation, Status
from tests import concurrency
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 16


def outcomes(entries) -> Counter:
    return Counter(entry.reason or "approved" for entry in entries)


def test_16_clients__domain_rate_5_per_minute__exactly_5_approved(live, make_policy):
    make_policy(max_actions_per_minute=5, max_daily_actions=1000, max_open_exposure="1000000")
    entries = concurrency.race(
        lambda i: services.reserve(domain="WHOLESALE", amount="10", actor=f"engine-{i}"), CLIENTS
    )
    assert outcomes(entries) == {"approved": 5, reasons.RATE_LIMITED: 11}


def test_16_clients_of_2_engines__engine_rate_3_per_minute__exactly_3_each(live, make_policy):
    make_policy(max_engine_actions_per_minute=3, max_daily_actions=1000, max_open_exposure="1000000")
    entries = concurrency.race(
        lambda i: services.reserve(domain="WHOLESALE", amount="10", actor=f"engine-{i % 2}"), CLIENTS
    )
    assert outcomes(entries) == {"approved": 6, reasons.RATE_LIMITED: 10}
    approved = Counter(e.actor for e in entries if e.ok)
    assert approved == {"engine-0": 3, "engine-1": 3}


def test_16_clients__same_engine_amount_ref__one_approved_15_duplicate_suspects(live, make_policy):
    make_policy(duplicate_window_seconds=60, max_daily_actions=1000, max_open_exposure="1000000")
    entries = concurrency.race(
        lambda i: services.reserve(
            domain="WHOLESALE", amount="250", ref="offer-77", idempotency_key=f"retry-{i}", actor="engine-a"
        ),
        CLIENTS,
    )
    assert outcomes(entries) == {"approved": 1, reasons.DUPLICATE_SUSPECT: 15}
    assert Reservation.objects.filter(status=Status.DENIED, reason=reasons.DUPLICATE_SUSPECT).count() == 15


def test_16_clients_across_4_domains__firm_exposure_1000__exactly_10_approved(live, make_policy):
    domains = ["WHOLESALE", "CAPITAL", "BUYERS", "ROUTING"]
    for domain in domains:
        make_policy(domain, max_daily_actions=1000, max_open_exposure="1000000")
    services.upsert_firm_policy(changes={"max_open_exposure": "1000"}, actor="tests/setup")
    entries = concurrency.race(
        lambda i: services.reserve(domain=domains[i % 4], amount="100", actor="engine-a"), CLIENTS
    )
    assert outcomes(entries) == {"approved": 10, reasons.FIRM_EXPOSURE: 6}
    open_total = sum(DailyTotals.objects.values_list("open_exposure", flat=True), Decimal(0))
    assert open_total == Decimal(1000)


def test_kill_racing_16_reserving_clients__nothing_left_open(live, make_policy, operator):
    make_policy(max_daily_actions=10_000, max_open_exposure="100000000")

    def work(i):
        if i == 0:
            golive.set_kill_switch(engaged=True, scope="domain", target="WHOLESALE", reason="race", actor=operator)
            return None
        return [services.reserve(domain="WHOLESALE", amount="10", actor=f"engine-{i}") for _ in range(5)]

    concurrency.race(work, CLIENTS)
    by_status = Counter(Reservation.objects.values_list("status", flat=True))
    assert by_status[Status.RESERVED] == 0
    assert set(by_status) <= {Status.CANCELLED, Status.DENIED}
    assert set(Reservation.objects.filter(status=Status.DENIED).values_list("reason", flat=True)) <= {
        reasons.KILL_SWITCH
    }
    assert DailyTotals.objects.get().open_exposure == 0
    print(f"kill racing reserves: {dict(by_status)}")


def test_disconnect_racing_16_reserving_clients__nothing_of_that_engine_left_open(live, make_policy):
    import datetime as dt

    from django.utils import timezone

    from golive.models import EngineHeartbeat

    make_policy(max_daily_actions=10_000, max_open_exposure="100000000")
    golive.beat(actor="engine-x", max_silence_seconds=3600)
    before = [services.reserve(domain="WHOLESALE", amount="10", actor="engine-x") for _ in range(3)]

    def work(i):
        if i == 0:
            # The engine fell silent: its last beat is older than its allowance now.
            EngineHeartbeat.objects.filter(engine="engine-x").update(
                last_beat_at=timezone.now() - dt.timedelta(hours=2)
            )
            return golive.disconnect_silent()
        actor = "engine-x" if i % 2 else f"engine-{i}"
        return [services.reserve(domain="WHOLESALE", amount="10", actor=actor) for _ in range(5)]

    results = concurrency.race(work, CLIENTS)
    assert results[0] == ["engine-x"]
    mine = Counter(Reservation.objects.filter(actor="engine-x").values_list("status", flat=True))
    assert mine[Status.RESERVED] == 0 and set(mine) <= {Status.CANCELLED, Status.DENIED}
    assert set(Reservation.objects.filter(pk__in=[e.pk for e in before]).values_list("status", flat=True)) == {
        Status.CANCELLED
    }
    assert set(Reservation.objects.filter(actor="engine-x", status=Status.DENIED).values_list("reason", flat=True)) <= {
        reasons.HEARTBEAT_MISSED
    }
    others = Reservation.objects.exclude(actor="engine-x")
    assert set(others.values_list("status", flat=True)) == {Status.RESERVED}  # other engines keep working
    open_total = sum(DailyTotals.objects.values_list("open_exposure", flat=True), Decimal(0))
    assert open_total == 10 * others.count()
    print(f"disconnect racing reserves: engine-x {dict(mine)}, others {others.count()} open")
