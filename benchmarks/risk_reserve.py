"""Risk Guard throughput and scaling on PostgreSQL, against a baseline measured in the same run.

1. reserve+settle pairs per second through the service (one process per client, as web workers
   would be) at 1 and 8 concurrent clients, next to `pgbench -N` (simple update) with as many
   clients on the same database (in a scratch schema, so no table of the project is touched);
2. the time of one reserve with 0 versus 100,000 reservations already made today (goal: < 1.2),
   twice: before and after loading the 100,000 (the strict reading, open to drift in the machine's
   load between the two), and interleaved, one reserve each in turn, for a domain with none and a
   domain with 100,000 made today in the same table (drift hits both alike).

Run by `make bench` (DATABASE_URL names the bench database, created here when missing).
"""

import datetime as dt
import multiprocessing
import re
import statistics
import time
from decimal import Decimal

import _common as common

common.start_django("postgres://postgres@127.0.0.1:5432/governance_bench")

from django.db import connection, connections  # noqa: E402
from django.db.models import F  # noqa: E402

from golive import services as golive  # noqa: E402
from governance_site.business_day import business_date  # noqa: E402
from risk import services  # noqa: E402
from risk.models import DailyTotals, Reservation, Status  # noqa: E402

ACTOR = "bench/risk"
SECONDS = 5  # per throughput measurement
CLIENTS = (1, 8)
PRELOADED = 100_000
TIMED_RESERVES = 600  # per domain and measurement
PGBENCH_SCHEMA = "risk_pgbench"


def prepare_database() -> None:
    common.prepare_database()
    golive.get_state()
    golive.set_go_live(enabled=True, reason="risk benchmark", actor=ACTOR)


def fresh_domain(domain: str) -> None:
    """An unlimited policy for `domain`, with none of its entries or totals left from earlier runs."""
    Reservation.objects.filter(domain=domain).delete()
    DailyTotals.objects.filter(domain=domain).delete()
    services.upsert_policy(domain=domain, changes=common.unlimited_risk_policy(), actor=ACTOR, reason="benchmark")


# 1. Throughput -------------------------------------------------------------------------------


def pairs_worker(domain: str, start_at: float, seconds: float) -> int:
    connections.close_all()  # never share the parent's connection
    while time.time() < start_at:
        time.sleep(0.001)
    pairs, stop_at = 0, start_at + seconds
    while time.time() < stop_at:
        entry = services.reserve(domain=domain, amount="10", actor=ACTOR)
        services.settle(reservation_id=entry.pk, realized_pnl="0", actor=ACTOR)
        pairs += 1
    connections.close_all()
    return pairs


def service_pairs_per_second(clients: int, domain_of) -> float:
    connections.close_all()
    start_at = time.time() + 1.0  # every process connected and waiting
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        counts = pool.starmap(pairs_worker, [(domain_of(i), start_at, SECONDS) for i in range(clients)])
    return sum(counts) / SECONDS


def pgbench(*args: str) -> str:
    return common.pgbench(*args, schema=PGBENCH_SCHEMA)


def pgbench_tps(clients: int) -> float:
    output = pgbench("-N", "-n", "-c", str(clients), "-j", str(clients), "-T", str(SECONDS))
    return float(re.search(r"tps = ([\d.]+)", output).group(1))


# 2. Scaling with the day's reservations ------------------------------------------------------


def reserve_seconds(*domains: str) -> list[float]:
    """The median time of one reserve for each domain, taking them in turn (each reservation is
    released afterwards, untimed, so the exposure stays flat)."""
    times = {domain: [] for domain in domains}
    for _ in range(TIMED_RESERVES):
        for domain in domains:
            started = time.perf_counter()
            entry = services.reserve(domain=domain, amount="10", actor=ACTOR)
            times[domain].append(time.perf_counter() - started)
            services.release(reservation_id=entry.pk, actor=ACTOR)
    return [statistics.median(times[domain]) for domain in domains]


def preload_today(domain: str, count: int) -> None:
    """`count` settled reservations made today, as `count` reserve+settle pairs would leave them
    (today's totals row exists: the measurement before made it)."""
    now, today = dt.datetime.now(dt.UTC), business_date()
    entries = (
        Reservation(
            domain=domain, amount=Decimal(10), status=Status.SETTLED, realized_pnl=Decimal(0), actor=ACTOR,
            business_date=today, expires_at=now, settled_at=now, settled_by=ACTOR,
        )
        for _ in range(count)
    )  # fmt: skip
    Reservation.objects.bulk_create(entries, batch_size=5_000)
    DailyTotals.objects.filter(domain=domain, business_date=today).update(approved_count=F("approved_count") + count)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Reservation._meta.db_table}, {DailyTotals._meta.db_table}")


def main() -> None:
    started = time.time()
    prepare_database()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {PGBENCH_SCHEMA} CASCADE; CREATE SCHEMA {PGBENCH_SCHEMA}")
    pgbench("-i", "-q", "-s", "1")
    domains = [f"BENCH_{i}" for i in range(max(CLIENTS))]
    for domain in domains:
        fresh_domain(domain)
    version = connection.cursor().connection.info.server_version
    print(f"PostgreSQL {version // 10000}.{version % 10000}, database {connection.settings_dict['NAME']}")
    print(f"\nreserve+settle pairs/s through risk.services vs pgbench -N tps, {SECONDS} s each")
    print(f"{'clients':>8} {'one domain':>11} {'ratio':>6} {'a domain each':>14} {'ratio':>6} {'pgbench -N':>11}")
    for clients in CLIENTS:
        tps = pgbench_tps(clients)
        shared = service_pairs_per_second(clients, lambda i: domains[0])
        spread = service_pairs_per_second(clients, lambda i: domains[i])
        print(f"{clients:>8} {shared:>11.0f} {shared / tps:>6.3f} {spread:>14.0f} {spread / tps:>6.3f} {tps:>11.0f}")

    full, empty = "BENCH_FULL", "BENCH_EMPTY"
    for domain in (full, empty):
        fresh_domain(domain)
    reserve_seconds(full, empty)  # warm up: connection, caches, each domain's totals row of today
    for domain in (full, empty):
        fresh_domain(domain)
    [before] = reserve_seconds(full)
    preload_today(full, PRELOADED)
    after, alongside = reserve_seconds(full, empty)
    print(f"\nreserve time, median of {TIMED_RESERVES:,} reserves")
    print(f"  {0:>7,} reservations made today (before loading)     {before * 1000:7.3f} ms")
    print(f"  {PRELOADED:>7,} reservations made today (after)            {after * 1000:7.3f} ms")
    print(f"  {0:>7,} made today by another domain, interleaved     {alongside * 1000:7.3f} ms")
    print(f"  ratio {after / before:.3f} after/before; {after / alongside:.3f} interleaved (goal < 1.2)")
    common.record(
        f"reserve time, {PRELOADED:,} reservations made today", after * 1000, "ms",
        baseline="0 made today (another domain, interleaved)", base=alongside * 1000, goal="≤ 1.2 × baseline",
        met=after / alongside <= 1.2,
    )  # fmt: skip

    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {PGBENCH_SCHEMA} CASCADE")
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
