"""Regression Tripwire: the time of one evaluation with 10 thousand versus 10 million KPI events.

Both tables hold the same mix: 20 (domain, metric) pairs, a third of the events carrying only a
value and the rest only a success flag, 100 ms apart. The evaluated policy's window + baseline
(250 rows) are read newest first through its kind's partial index, so the time should not grow
with the table (goal: ratio < 1.5). Each figure is the median of 500 evaluations through the
service (lock, read, decide, write, commit), after a warm-up; the window query alone is timed
too, since the commit's WAL flush can dominate an evaluation's time. The sizes run A-B-A
(10 thousand, 10 million, 10 thousand again; the ratio uses the mean of the two small runs).

The 10 million rows are loaded with INSERT ... SELECT generate_series with the two partial
indexes dropped and then rebuilt from the model's own definitions (a minute or two).

DATABASE_URL names the bench database (default postgres://postgres@127.0.0.1:5432/
governance_bench_regression), created and migrated here when missing. Its KPI table is emptied.
"""

import statistics
import time

import _common as common

common.start_django("postgres://postgres@127.0.0.1:5432/governance_bench_regression")

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from regression import selectors, services  # noqa: E402
from regression.models import KpiEvent, PolicyKind  # noqa: E402

ACTOR = "bench/regression"
SMALL, LARGE = 10_000, 10_000_000
PAIRS = [(f"BENCH_{d}", f"metric_{m}") for d in range(4) for m in range(5)]
TARGET = PAIRS[-1]
EVALUATIONS = 500
GOAL = 1.5  # for the evaluation; the read alone (the window query) is shown next to it

LOAD = """
INSERT INTO regression_kpievent (domain, metric, success, value, actor, occurred_at, created_at, model_version)
SELECT 'BENCH_' || mod(g / 5, 4), 'metric_' || mod(g, 5),
       CASE WHEN mod(g, 3) = 0 THEN NULL ELSE mod(g, 10) <> 0 END,
       CASE WHEN mod(g, 3) = 0 THEN mod(g, 100)::float ELSE NULL END,
       'bench', %(end)s - (%(n)s - g) * interval '100 milliseconds', %(end)s, ''
FROM generate_series(1, %(n)s) AS g
"""


def load(rows: int) -> float:
    """Empty the KPI table and fill it with `rows` events; returns the seconds it took."""
    started = time.perf_counter()
    indexes = KpiEvent._meta.indexes
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.remove_index(KpiEvent, index)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE regression_kpievent")
        cursor.execute(LOAD, {"n": rows, "end": timezone.now()})
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.add_index(KpiEvent, index)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE regression_kpievent")
    return time.perf_counter() - started


def timed(call, repeat: int) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds, of `call()` after a warm-up."""
    for _ in range(50):  # warm-up: connection, caches, plans
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20)[-1]


def evaluate_target():
    state = services.evaluate(domain=TARGET[0], metric=TARGET[1], actor=ACTOR)
    assert (state.window_count, state.baseline_count) == (50, 200), state


def read_target_window():
    policy = selectors.policies().get(domain=TARGET[0], metric=TARGET[1])
    window, baseline = selectors.kpi_window(policy, now=timezone.now())
    assert (len(window), len(baseline)) == (50, 200)


def rows_read() -> str:
    """What the evaluation's window query does on the current table: its index, rows and buffers."""
    policy = selectors.policies().get(domain=TARGET[0], metric=TARGET[1])
    with CaptureQueriesContext(connection) as queries:
        selectors.kpi_window(policy, now=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + queries.captured_queries[0]["sql"])
        plan = cursor.fetchone()[0][0]["Plan"]
    while "Index Name" not in plan and plan.get("Plans"):
        plan = plan["Plans"][0]
    buffers = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
    return f"{plan['Node Type']} using {plan.get('Index Name')}: {plan['Actual Rows']} rows, {buffers} buffers"


def main() -> None:
    common.prepare_database()
    for domain, metric in PAIRS:
        services.upsert_policy(
            domain=domain, metric=metric, changes={"enabled": True, "kind": PolicyKind.SUCCESS_RATE}, actor=ACTOR
        )
    results = {rows: {"evaluation": [], "read": []} for rows in (SMALL, LARGE)}
    for rows in (SMALL, LARGE, SMALL):  # A-B-A: the machine's load drift hits both sizes alike
        seconds = load(rows)
        print(f"{rows:>12,} events loaded in {seconds:5.1f} s; {rows_read()}", flush=True)
        for what, call in (("evaluation", evaluate_target), ("read", read_target_window)):
            median, p95 = timed(call, EVALUATIONS)
            results[rows][what].append(median)
            print(f"{rows:>12,} events: {what:<10} median {median:6.3f} ms, p95 {p95:6.3f} ms", flush=True)
    for what in ("evaluation", "read"):
        ratio = statistics.mean(results[LARGE][what]) / statistics.mean(results[SMALL][what])
        verdict = "meets" if ratio < GOAL else "MISSES"
        print(f"ratio 10 million / 10 thousand, {what} medians: {ratio:.2f} ({verdict} the goal < {GOAL})")
        if what == "evaluation":
            large, small = (statistics.mean(results[size][what]) for size in (LARGE, SMALL))
            common.record(
                "one evaluation, 10 million events", large, "ms", baseline="the same with 10 thousand events",
                base=small, goal=f"≤ {GOAL} × baseline", met=ratio <= GOAL,
            )  # fmt: skip


if __name__ == "__main__":
    main()
