"""`python -m drills [--short] [--only hostile,load,faults]`: run the drills, print one table, exit 1
if anything was lost.

Everything runs on a PostgreSQL and a Redis the drills start themselves (never the machine's shared
services); every process they start is killed at exit.
"""

import argparse
import shutil
import signal
import sys
import time
import traceback

from . import faults, harness, hostile, load
from .report import Row, table

DRILLS = ("hostile", "load", "faults")  # "faults" is all of faults.ALL; each may be named alone
# (schemathesis examples per operation, mode and role; load seconds; racing-batch tries; fault drills)
BUDGETS = {"full": (20, 60, 10, faults.ALL), "short": (4, 20, 5, ())}
# Seconds one drill may take before it is stopped and reported as failed (typical: half of it).
DRILL_TIMEOUTS = {"hostile": 300, "load": 180}
FAULT_TIMEOUT = 150


def _overtime(signum, frame):
    raise TimeoutError("the drill took longer than its time limit")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI form: a small example budget, a 20 s load")
    parser.add_argument(
        "--only", default=",".join(DRILLS), help=f"comma-separated subset of {', '.join(DRILLS + faults.ALL)}"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) even when all passed")
    args = parser.parse_args(argv)
    harness.exit_on_termination()
    only = set(args.only.split(","))
    examples, load_seconds, race_tries, fault_drills = BUDGETS["short" if args.short else "full"]
    if args.short:
        only.discard("faults")
    elif "faults" in only:
        only |= set(fault_drills)

    started = time.monotonic()
    workdir = harness.workdir()
    harness.log(f"application: {harness.SRC} ({harness.PYTHON}); work folder {workdir}")
    rows: list[Row] = []
    pg = harness.Postgres(workdir)

    def attempt(name: str, drill) -> None:
        signal.signal(signal.SIGALRM, _overtime)
        signal.alarm(DRILL_TIMEOUTS.get(name, FAULT_TIMEOUT))
        try:
            rows.extend(drill())
        except Exception as error:
            traceback.print_exc()
            rows.append(Row(drill=name, tried="(the drill itself failed)", held="", lost=[repr(error)[:500]]))
        finally:
            signal.alarm(0)

    def on_new_app(database: str, drill, **kwargs):
        """Run `drill(app)` on a fresh database; whatever it started is stopped after it."""
        app = harness.new_app(pg, workdir, database, **kwargs)
        try:
            return drill(app)
        finally:
            app.stop_all()

    if "hostile" in only:
        attempt(
            "hostile",
            lambda: on_new_app(
                "hostile", lambda app: hostile.run(app, app.gunicorn(workers=2, name="hostile-web"), examples=examples)
            ),
        )
    if "load" in only:
        attempt(
            "load",
            lambda: on_new_app(
                "load", lambda app: load.run(app, seconds=load_seconds, race_tries=race_tries), engines=32
            ),
        )
    for name in faults.ALL:
        if name in only:
            attempt(f"fault: {name}", lambda name=name: faults.run(name, pg, workdir))

    elapsed = time.monotonic() - started
    print()
    print(table(rows))
    passed = all(row.ok for row in rows) and rows
    print(f"drills: {sum(r.ok for r in rows)} passed, {sum(not r.ok for r in rows)} failed in {elapsed:.0f} s")
    if passed and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"drills: logs in {workdir}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
