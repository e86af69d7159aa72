"""Load: gunicorn with several workers on PostgreSQL, 32 clients posting KPI events (single and
batches with overlapping event_ids) and reserving/settling, while the beat's evaluation of every
tripwire runs back to back. Then: every acknowledged event stored exactly once, every cap held
(replayed in commit order), the daily totals equal to their entries, and no request failed."""

import collections
import json
import threading

from .harness import App, describe, is_json, log, new_seed
from .report import Row
from .traffic import API, METRICS, Traffic, failed, kpi_event, percentile

KPI_DOMAIN = "LOADKPI"
RACE_DOMAIN = "RACEKPI"
# Caps that bind during the drill: the number of actions, the open exposure, the loss, one action's size.
RISK_POLICIES = {
    "LOAD_ACTIONS": {"max_daily_actions": 300, "max_open_exposure": "10000000", "max_daily_loss": "10000000"},
    "LOAD_EXPOSURE": {"max_daily_actions": 100000, "max_open_exposure": "4000", "max_daily_loss": "10000000"},
    "LOAD_LOSS": {"max_daily_actions": 100000, "max_open_exposure": "10000000", "max_daily_loss": "3000"},
    "LOAD_SIZE": {"max_daily_actions": 100000, "max_open_exposure": "10000000", "max_daily_loss": "10000000"},
}


def setup(app: App, web, *, risk_policies=RISK_POLICIES, kpi_domain=KPI_DOMAIN) -> None:
    """Production on, the risk policies above, a THROTTLE tripwire per KPI metric; through the API."""
    op = app.tokens["operator"]
    requests = [("/go-live/enable", {"enabled": True, "reason": "drill"})]
    for domain, caps in risk_policies.items():
        body = {"domain": domain, "enabled": True, "max_action_amount": "900", **caps, "reason": "drill"}
        requests.append(("/risk/policies/upsert", body))
    for metric in METRICS:
        body = {"domain": kpi_domain, "metric": metric, "enabled": True, "window_events": 50, "baseline_events": 200,
                "action": "THROTTLE", "reason": "drill"}  # fmt: skip
        requests.append(("/regression/policies/upsert", body))
    for path, body in requests:
        status, _, answer = web.post(API + path, body, token=op)
        if status not in (200, 201):
            raise RuntimeError(f"setup POST {path} → {status} {answer[:300]!r}")


def summarize(traffic: Traffic, wall: float) -> tuple[str, list]:
    answers = traffic.answers
    latencies = [a.elapsed for a in answers]
    bad = [a for a in answers if failed(a)]
    by_status = collections.Counter(a.status for a in answers)
    p50, p99 = (percentile(latencies, q) * 1000 for q in (0.5, 0.99))
    stats = (
        f"{len(answers)} requests in {wall:.0f} s = {len(answers) / wall:.0f}/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms; "
        f"statuses {dict(sorted(by_status.items()))}"
    )
    return stats, bad


def racing_batches(app: App, web, *, tries: int, size: int = 300, racers: int = 4) -> Row:
    """The issue's reproduction: the same `size` new events posted by `racers` engines at once, in
    opposite orders; every answer a 201 and every event stored once."""
    bad, created_wrong = [], 0
    acked = []
    for attempt in range(tries):
        events = [kpi_event(n, RACE_DOMAIN) for n in range(attempt * size, (attempt + 1) * size)]
        orders = [events if racer % 2 == 0 else events[::-1] for racer in range(racers)]
        barrier, answers = threading.Barrier(racers), [None] * racers

        def post(racer, body, barrier=barrier, answers=answers):
            barrier.wait(timeout=30)
            token = app.tokens["engines"][racer]
            answers[racer] = web.post(f"{API}/regression/kpi/batch", body, token=token, timeout=60)

        threads = [threading.Thread(target=post, args=(r, orders[r]), daemon=True) for r in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        for status, headers, body in (a or (0, {}, b"no answer") for a in answers):
            if status != 201 or not is_json(headers, body):
                bad.append(f"try {attempt}: {status} {describe(headers, body)}")
        created = sum(json.loads(a[2]).get("created", 0) for a in answers if a and a[0] == 201)
        created_wrong += created != size and not bad
        acked += [e["event_id"] for e in events]
    told = {"kpi_domains": [RACE_DOMAIN], "risk_domains": [], "kpi_acked": acked, "reservations": {}}
    verdict = app.verify(told, name="race")
    lost = []
    if bad:
        lost.append(f"{len(bad)} of {tries * racers} answers not 201 (e.g. {bad[0]})")
    if created_wrong:
        lost.append(f"{created_wrong} tries whose answers' `created` do not add up to {size}")
    if verdict["problem_count"]:
        lost.append("; ".join(verdict["problems"][:3]))
    return Row(
        drill="load: racing KPI batches",
        tried=f"{tries} tries: the same {size} new events posted by {racers} engines at once, in opposite orders",
        held=f"{tries * racers - len(bad)} answers 201; {verdict['kpi_stored']} events stored for "
        f"{verdict['kpi_acked']} distinct, none twice",
        lost=lost,
    )


def run(app: App, *, seconds: float, clients: int = 32, workers: int = 4, race_tries: int = 10) -> list[Row]:
    web = app.gunicorn(workers=workers, name="load-web")
    setup(app, web)
    traffic = Traffic([web], app.tokens["engines"], risk_domains=RISK_POLICIES, kpi_domain=KPI_DOMAIN, timeout=30)
    seed = new_seed()
    log(f"load: {clients} clients, {seconds:.0f} s, gunicorn with {workers} workers, evaluation looping, seed {seed}")
    evaluator = app.ctl_background("evaluate-loop", str(seconds), name="load-evaluate")
    wall = traffic.run(clients=clients, seconds=seconds, seed=seed)
    evaluations = app.ctl_result(evaluator, timeout=120)
    stats, bad = summarize(traffic, wall)
    log("load: " + stats)

    verdict = app.verify(traffic.told(), name="load")
    lost = []
    if bad:
        examples = "; ".join(f"{a.what} → {a.status} {a.text[:120]}" for a in bad[:3])
        lost.append(f"failed requests: {len(bad)} (e.g. {examples})")
    if verdict["problem_count"]:
        lost.append(f"{verdict['problem_count']} ledger/KPI problems: " + "; ".join(verdict["problems"][:3]))
    if evaluations.get("error"):
        lost.append(f"{evaluations['error']} tripwire evaluations failed")
    approved = len(traffic.reservations)
    settled = sum(1 for r in traffic.reservations.values() if r["settled_pnl"] is not None)
    log(f"load: racing KPI batches, {race_tries} tries")
    race = racing_batches(app, web, tries=race_tries)
    return [
        Row(
            drill="load",
            tried=f"{clients} clients × {seconds:.0f} s, gunicorn {workers} workers on PostgreSQL, KPI single + "
            f"batches of 50-300 over {len(RISK_POLICIES)} capped domains; {sum(evaluations.values())} tripwire "
            f"evaluations meanwhile; seed {seed}. {stats}",
            held=f"{verdict['kpi_acked']} acknowledged events stored once ({verdict['kpi_stored']} rows), "
            f"{approved} approved / {settled} settled reservations as told, {verdict['entries']} entries, "
            f"caps replayed: {verdict['cap_violations']} violations, daily totals = entries",
            lost=lost,
        ),
        race,
    ]
