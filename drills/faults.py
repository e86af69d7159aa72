"""Faults, on a PostgreSQL and a Redis the drill starts itself:

- postgres stopped / postgres hung: an immediate shutdown (SIGQUIT, as `pg_ctl stop -m immediate`),
  or SIGSTOP on every PostgreSQL process, in the middle of a load. Every answer is JSON (a 204
  from the gate aside), comes within DRILL_ANSWER_TIMEOUT seconds and is closed (a decision or a
  423, or a 503 with Retry-After); the service answers normally again by itself once the database
  is back; nothing acknowledged is lost and nothing refused is stored.
- broker stopped: Redis killed while worker and beat run; the web keeps deciding; once Redis is
  back, the worker and beat evaluate again without being restarted.
- worker killed: SIGKILL on the worker while its evaluation waits inside its transaction; the
  tripwire's action is taken exactly once after another worker takes over.
- two beats, two webs: two beats by mistake and a worker, two gunicorns on different ports posting
  evaluations against the same database: one `tripwire.trigger` per tripwire, caps held.
"""

import datetime as dt
import json
import os
import signal
import threading
import time

import psycopg

from . import harness
from .harness import App, Postgres, Redis, describe, log, new_seed, stop, wait_until
from .load import setup
from .report import Row
from .traffic import API, Traffic

ALL = ("pg-stop", "pg-hang", "broker-stop", "worker-kill", "two-beats-webs")
ANSWER_TIMEOUT = float(os.environ.get("DRILL_ANSWER_TIMEOUT", "10"))
RECOVERY = 15.0  # seconds the service may take to answer normally again after the database is back
FAULT_POLICIES = {
    "FAULT": {"max_daily_actions": 100000, "max_open_exposure": "20000", "max_daily_loss": "1000000"},
}


def run(name: str, pg: Postgres, workdir) -> list[Row]:
    if name in ("pg-stop", "pg-hang"):
        return _database_fault(workdir, hang=name == "pg-hang")
    drill, engines = {
        "broker-stop": (_broker_stopped, 0),
        "worker-kill": (_worker_killed, 0),
        "two-beats-webs": (_two_beats_two_webs, 8),
    }[name]
    redis = Redis(workdir)
    app = None
    try:
        app = harness.new_app(pg, workdir, name.replace("-", "_"), broker=redis.url(), engines=engines)
        return drill(app, redis)
    finally:
        if app is not None:
            app.stop_all()
        redis.stop()


def _answer_problem(answer) -> str | None:
    """Why an answer given during or around a fault is not acceptable (None: it is)."""
    if answer.status == 0:
        return f"no answer ({answer.text[:80]})"
    if answer.elapsed > ANSWER_TIMEOUT:
        return f"answered after {answer.elapsed:.1f} s"
    if answer.status == 204:
        return None
    if not answer.json:
        return f"{answer.status}, not JSON"
    if answer.status == 503:
        return None if "retry-after" in answer.headers else "503 without Retry-After"
    if answer.status >= 400 and answer.status != 423:
        return f"{answer.status} {answer.text[:100]}"
    return None


def _closed(answer) -> bool:
    """A refusal the engine reads as "no"."""
    body = answer.body or {}
    return (
        answer.status in (423, 503)
        or body.get("ok") is False
        or body.get("prod_eligible") is False
        or answer.what in ("kpi", "kpi batch", "settle", "release")
        and answer.status >= 400
    )


def _database_fault(workdir, *, hang: bool) -> list[Row]:
    label = "postgres hung (SIGSTOP)" if hang else "postgres stopped (immediate)"
    sub = workdir / ("pg-hung" if hang else "pg-stopped")
    sub.mkdir()
    os.chmod(sub, 0o777)
    pg = Postgres(sub)
    app = None
    try:
        app = harness.new_app(pg, sub, "faults", engines=8)
        web = app.gunicorn(workers=3, timeout=120, name="web")
        setup(app, web, risk_policies=FAULT_POLICIES, kpi_domain="FAULTKPI")
        traffic = Traffic(
            [web],
            app.tokens["engines"],
            risk_domains=FAULT_POLICIES,
            kpi_domain="FAULTKPI",
            timeout=ANSWER_TIMEOUT + 20,
        )
        seed = new_seed()
        before, outage, after = 6.0, 15.0, 6.0 + RECOVERY
        thread = threading.Thread(
            target=traffic.run, kwargs={"clients": 8, "seconds": before + outage + after, "seed": seed}, daemon=True
        )
        log(f"fault: {label} for {outage:.0f} s in a {before + outage + after:.0f} s load (seed {seed})")
        thread.start()
        time.sleep(before)
        fault_start = time.monotonic() - traffic.started
        if hang:
            pg.signal(signal.SIGSTOP)
        else:
            pg.stop("immediate")
        time.sleep(outage)
        restored = time.monotonic() - traffic.started  # from now on the database may answer again
        if hang:
            pg.signal(signal.SIGCONT)
        else:
            pg.start()
        fault_end = time.monotonic() - traffic.started
        thread.join(timeout=after + ANSWER_TIMEOUT + 60)

        during = [a for a in traffic.answers if fault_start <= a.at < fault_end]
        problems = [(a, p) for a in traffic.answers if (p := _answer_problem(a))]
        # Asked and answered while the database was away: only a refusal can be right.
        problems += [
            (a, "open while the database was away")
            for a in during
            if a.at > fault_start + 1 and a.at + a.elapsed < restored and a.status in (200, 201, 204) and not _closed(a)
        ]
        recovered_at = fault_end + RECOVERY - 5
        late = [a for a in traffic.answers if a.at >= recovered_at]
        late_ok = [a for a in late if a.status in (200, 201, 204)]
        late_bad = [
            a for a in late if a.status not in (200, 201, 204) or (a.body or {}).get("reason") == "state_unavailable"
        ]
        closed = sum(_closed(a) for a in during)
        verdict = app.verify(traffic.told(), name="faults")
    finally:
        if app is not None:
            app.stop_all()
        pg.shutdown()

    lost = []
    if problems:
        kinds = {}
        for answer, problem in problems:
            kinds.setdefault(problem.split(" (")[0][:40], []).append(f"{answer.what} at {answer.at:.1f} s → {problem}")
        lost.append(
            f"{len(problems)} bad answers: " + "; ".join(f"{len(v)}× e.g. {v[0]}" for v in list(kinds.values())[:4])
        )
    if not late_ok or late_bad:
        example = f" (e.g. {late_bad[0].what} → {late_bad[0].status} {late_bad[0].text[:80]})" if late_bad else ""
        lost.append(f"not recovered {RECOVERY:.0f} s after: {len(late_bad)} of {len(late)} late answers bad{example}")
    if verdict["problem_count"]:
        lost.append("; ".join(verdict["problems"][:3]))
    return [
        Row(
            drill=f"fault: {label}",
            tried=f"8 clients; database {'hung' if hang else 'down'} {fault_start:.0f}-{fault_end:.0f} s "
            f"of {before + outage + after:.0f} s; {len(traffic.answers)} requests, {len(during)} during the fault; "
            f"answer timeout {ANSWER_TIMEOUT:.0f} s; seed {seed}",
            held=f"{len(traffic.answers) - len(problems)} answers JSON and in time (slowest "
            f"{max((a.elapsed for a in traffic.answers), default=0):.1f} s); {closed} of {len(during)} during "
            f"the fault closed; {len(late_ok)} normal answers after; {verdict['kpi_acked']} acknowledged events and "
            f"{verdict['entries']} entries checked",
            lost=lost,
        )
    ]


# --- Celery faults -------------------------------------------------------------------------------


def _all_states(app: App, web) -> list[dict]:
    """Every tripwire's state (the drills have fewer than a page of them)."""
    status, _, body = web.get(f"{API}/regression/state", token=app.tokens["viewer"])
    if status != 200:
        raise RuntimeError(f"GET regression/state → {status} {body[:200]!r}")
    payload = json.loads(body)
    return payload["results"] if isinstance(payload, dict) else payload


def _state(app: App, web, domain: str, metric: str) -> dict | None:
    return next((r for r in _all_states(app, web) if r["domain"] == domain and r["metric"] == metric), None)


def _tripwire(app: App, web, domain: str, metric: str, *, enabled: bool, trigger: bool) -> None:
    """A THROTTLE tripwire on (domain, metric) with 20 baseline and 10 window events: all successes,
    or, with `trigger`, a window of failures (a 100% drop)."""
    op = app.tokens["operator"]
    policy = {"domain": domain, "metric": metric, "enabled": enabled, "window_events": 10, "baseline_events": 20,
              "max_drop_fraction": 0.2, "action": "THROTTLE", "reason": "drill"}  # fmt: skip
    status, _, body = web.post(f"{API}/regression/policies/upsert", policy, token=op)
    if status not in (200, 201):
        raise RuntimeError(f"tripwire upsert → {status} {body[:200]!r}")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    events = [
        {"domain": domain, "metric": metric, "success": not (trigger and i >= 20),
         "occurred_at": (start + dt.timedelta(seconds=i)).isoformat(), "event_id": f"{domain}-{metric}-{i}"}
        for i in range(30)
    ]  # fmt: skip
    status, _, body = web.post(f"{API}/regression/kpi/batch", events, token=app.tokens["engine"])
    if status != 201:
        raise RuntimeError(f"kpi batch → {status} {body[:200]!r}")


def _enable(app: App, web, domain: str, metric: str) -> None:
    body = {"domain": domain, "metric": metric, "enabled": True, "reason": "drill"}
    status, _, answer = web.post(f"{API}/regression/policies/upsert", body, token=app.tokens["operator"])
    if status not in (200, 201):
        raise RuntimeError(f"enable → {status} {answer[:200]!r}")


def _broker_stopped(app: App, redis: Redis) -> list[Row]:
    web = app.gunicorn(workers=2, name="broker-web")
    setup(app, web, risk_policies=FAULT_POLICIES, kpi_domain="BROKERKPI")
    _tripwire(app, web, "BROKER", "beat_probe", enabled=True, trigger=False)
    app.ctl("beat-every", "1")
    worker = app.celery("worker", "--concurrency=1", name="broker-worker")
    beat = app.celery("beat", name="broker-beat")
    lost = []
    first = wait_until(
        lambda: (_state(app, web, "BROKER", "beat_probe") or {}).get("evaluated_at"),
        timeout=60,
        what="a first evaluation by worker and beat",
    )
    log(f"fault: broker stopped (first evaluation at {first})")
    redis.stop()
    outage_answers, problems = 0, []
    until = time.monotonic() + 10
    while time.monotonic() < until:
        for method, path, body in (
            ("GET", "/go-live/check", None),
            ("POST", "/risk/reserve", {"domain": "FAULT", "amount": "1"}),
            ("POST", "/heimdall/check", {"domain": "FAULT", "confidence": 0.9}),
            ("POST", "/regression/kpi", {"domain": "BROKERKPI", "metric": "m0", "success": True}),
        ):
            begin = time.monotonic()
            status, headers, raw = web.request(method, API + path, token=app.tokens["engine"], body=body,
                                               timeout=ANSWER_TIMEOUT + 5)  # fmt: skip
            outage_answers += 1
            elapsed = time.monotonic() - begin
            if status not in (200, 201, 204) or elapsed > ANSWER_TIMEOUT:
                problems.append(f"{path} → {status} in {elapsed:.1f} s {describe(headers, raw)}")
        time.sleep(0.2)
    if problems:
        lost.append(f"{len(problems)} of {outage_answers} answers failed while Redis was down: {problems[0]}")
    restarted = dt.datetime.now(dt.UTC)
    redis.start()
    try:
        wait_until(
            lambda: dt.datetime.fromisoformat(_state(app, web, "BROKER", "beat_probe")["evaluated_at"]) > restarted,
            timeout=45,
            what="an evaluation after Redis came back",
        )
    except TimeoutError as error:
        lost.append(str(error))
    for process, name in ((worker, "worker"), (beat, "beat")):
        if process.poll() is not None:
            lost.append(f"{name} exited ({process.returncode})")
    return [
        Row(
            drill="fault: broker stopped",
            tried=f"Redis killed for 10 s while worker and beat (every 1 s) run; {outage_answers} decisions and "
            "KPI posts meanwhile; Redis restarted on its port",
            held="the web answered every request in time; worker and beat evaluated again without a restart"
            if not lost
            else "",
            lost=lost,
        )
    ]


def _waiting_on_lock(app: App) -> int:
    with psycopg.connect(app.pg.url(app.db), autocommit=True, connect_timeout=5) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [app.db]
        ).fetchone()[0]


def _worker_killed(app: App, redis: Redis) -> list[Row]:
    web = app.gunicorn(workers=2, name="killed-web")
    setup(app, web, risk_policies={"KILLED": FAULT_POLICIES["FAULT"]}, kpi_domain="KILLEDKPI")
    _tripwire(app, web, "KILLED", "contract_rate", enabled=False, trigger=True)
    app.ctl("beat-every", "1")
    holder = app.ctl_background("hold-lock", "KILLED", "contract_rate", "60", name="killed-lock")
    lost = []
    wait_until(lambda: "locked" in holder.log_path.read_text(), timeout=30, what="the row lock")
    worker = app.celery("worker", "--concurrency=1", name="killed-worker")
    app.celery("beat", name="killed-beat")
    _enable(app, web, "KILLED", "contract_rate")
    wait_until(lambda: _waiting_on_lock(app), timeout=45, what="an evaluation waiting inside its transaction")
    log("fault: worker killed (SIGKILL) while its evaluation waits on the row lock")
    stop(worker, sig=signal.SIGKILL)
    stop(holder, sig=signal.SIGKILL)
    worker = app.celery("worker", "--concurrency=1", name="killed-worker-2")
    try:
        wait_until(
            lambda: (_state(app, web, "KILLED", "contract_rate") or {}).get("triggered"),
            timeout=45,
            what="the trigger by the second worker",
        )
        time.sleep(4)  # a few more beat ticks: a second action would show now
    except TimeoutError as error:
        lost.append(str(error))
    triggers = app.ctl("audit-count", "tripwire.trigger")["tripwire.trigger"]
    status, _, body = web.get(f"{API}/risk/policies", token=app.tokens["viewer"])
    policies = json.loads(body)
    policies = policies["results"] if isinstance(policies, dict) else policies
    throttled = not next(p for p in policies if p["domain"] == "KILLED")["enabled"]
    if triggers != 1 or not throttled:
        lost.append(f"{triggers} tripwire.trigger audit events (1 expected), risk policy throttled: {throttled}")
    return [
        Row(
            drill="fault: worker killed",
            tried="SIGKILL on the worker while its evaluation of a triggering tripwire waited on a row lock "
            "inside its transaction; a new worker started; beat every 1 s",
            held=f"{triggers} tripwire.trigger, domain throttled: {throttled}",
            lost=lost,
        )
    ]


def _two_beats_two_webs(app: App, redis: Redis) -> list[Row]:
    web_a = app.gunicorn(workers=2, name="twice-web-a")
    web_b = app.gunicorn(workers=2, name="twice-web-b")
    setup(app, web_a, risk_policies=FAULT_POLICIES, kpi_domain="TWICEKPI")
    tripwires = [(f"TWICE{d}", f"metric_{m}") for d in range(3) for m in range(2)]
    for domain, metric in tripwires:
        _tripwire(app, web_a, domain, metric, enabled=False, trigger=True)
    app.ctl("beat-every", "1")
    lost = []
    app.celery("beat", name="twice-beat-1")
    app.celery("beat", name="twice-beat-2")
    app.celery("worker", "--concurrency=2", name="twice-worker")
    time.sleep(3)
    seed = new_seed()
    log(f"fault: two beats and two webs, {len(tripwires)} tripwires about to trigger (seed {seed})")
    traffic = Traffic(
        [web_a, web_b], app.tokens["engines"], risk_domains=FAULT_POLICIES, kpi_domain="TWICEKPI", timeout=30
    )
    load = threading.Thread(target=traffic.run, kwargs={"clients": 8, "seconds": 12, "seed": seed}, daemon=True)
    load.start()
    for index, (domain, metric) in enumerate(tripwires):
        _enable(app, (web_a, web_b)[index % 2], domain, metric)

    def evaluate(web, domain, metric):
        web.post(f"{API}/regression/evaluate", {"domain": domain, "metric": metric}, token=app.tokens["engine"])

    racers = [
        threading.Thread(target=evaluate, args=(web, domain, metric), daemon=True)
        for domain, metric in tripwires
        for web in (web_a, web_b, web_a, web_b)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    load.join(timeout=60)
    try:
        wait_until(
            lambda: sum(s["triggered"] for s in _all_states(app, web_b)) >= len(tripwires),
            timeout=30,
            what="every tripwire triggered",
        )
    except TimeoutError as error:
        lost.append(str(error))
    time.sleep(3)
    counts = app.ctl("audit-count", "tripwire.trigger")["by_object"]
    ours = {f"{domain}.{metric}" for domain, metric in tripwires}
    wrong = {key: n for key, n in counts.items() if n != 1 or key not in ours and not key.startswith("TWICEKPI.")}
    wrong.update(dict.fromkeys(ours - set(counts), 0))
    if wrong:
        lost.append(f"tripwire.trigger audit events per tripwire (1 expected): {wrong}")
    verdict = app.verify(traffic.told(), name="twice")
    if verdict["problem_count"]:
        lost.append("; ".join(verdict["problems"][:3]))
    bad = [a for a in traffic.answers if _answer_problem(a) or a.status == 503]
    if bad:
        lost.append(f"failed requests: {len(bad)}, e.g. {bad[0].what} → {bad[0].status} {bad[0].text[:80]}")
    return [
        Row(
            drill="fault: two beats, two webs",
            tried=f"2 beats (every 1 s) + a worker; gunicorn on ports {web_a.port} and {web_b.port}; "
            f"{len(tripwires)} tripwires enabled at once and evaluated by 4 racing requests each; "
            f"{len(traffic.answers)} reserve/settle/KPI requests across both webs; seed {seed}",
            held=f"{sum(counts.get(key, 0) for key in ours)} tripwire.trigger for {len(tripwires)} tripwires "
            f"(and {sum(n for key, n in counts.items() if key not in ours)} by the load's KPI tripwires, once each); "
            f"{verdict['entries']} entries, caps held: {verdict['cap_violations'] == 0}",
            lost=lost,
        )
    ]
