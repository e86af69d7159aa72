"""Replays the spec's walkthrough against this service, step by step, and leaves the data to look at.

A 95% contract-rate baseline drifts to 75%: the WHOLESALE tripwire throttles the domain, and a
WHOLESALE reserve is denied `policy_disabled`. Then CAPITAL's ROI turns negative: the CAPITAL
tripwire engages the kill switch and production stops. Every change goes through the levers'
services, so the audit trail shows it all.

`--start-over` (what `make demo` runs) first recreates the embedded SQLite database, so the ledger,
trials, KPI events and states are the story's alone; nothing append-only is deleted row by row.
On any other database the story is told again on top of the earlier runs' rows: the tripwires
are reset and the kill switch released first, and each run's KPI events are newer than the last.
"""

import datetime as dt
import random
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from golive import services as golive
from governance_site.alerts import selectors as alert_selectors
from governance_site.alerts import services as alerts
from heimdall import services as heimdall
from regression import services as regression
from regression.models import KpiEvent, RegressionState
from risk import selectors as risk_selectors
from risk import services as risk

ACTOR = "demo/walkthrough"
WHOLESALE_CAPS = {
    "enabled": True,
    "max_daily_loss": "5000",
    "max_open_exposure": "250000",
    "max_daily_actions": 500,
    "max_action_amount": "50000",
}
CAPITAL_CAPS = {**WHOLESALE_CAPS, "max_open_exposure": "1000000", "max_action_amount": "200000"}
# The seeded tripwires' settings (stated here too, so the demo works wherever the seeds were edited
# or are missing), with a 100-event window so that 75% is a whole number of events.
CONTRACT_RATE_TRIPWIRE = {
    "kind": "SUCCESS_RATE", "action": "THROTTLE", "max_drop_fraction": 0.20, "window_events": 100,
    "baseline_events": 200, "lookback_days": 30,
}  # fmt: skip
ROI_TRIPWIRE = {
    "kind": "MEAN_VALUE", "action": "KILL_SWITCH", "max_drop_fraction": 0.30, "window_events": 50,
    "baseline_events": 200, "lookback_days": 30,
}  # fmt: skip


def samples_at_rate(rate: float, count: int, rng: random.Random) -> list[bool]:
    """`count` outcomes with exactly round(rate × count) successes, shuffled."""
    successes = round(rate * count)
    outcomes = [True] * successes + [False] * (count - successes)
    rng.shuffle(outcomes)
    return outcomes


class Command(BaseCommand):
    help = "Replay the regression-tripwire walkthrough (throttle, then kill switch) and print each step."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Where the admin is served.")
        parser.add_argument(
            "--start-over",
            action="store_true",
            help="Recreate the embedded SQLite database (db.sqlite3) first; other databases keep their rows.",
        )

    def step(self, number: int, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"\n{number}. {text}"))

    def say(self, text: str) -> None:
        self.stdout.write(f"   {text}")

    def decision(self) -> str:
        decision = golive.may_execute()
        return "yes" if decision.ok else f"no ({decision.reason})"

    def watch(self, domain: str, metric: str, tripwire: dict, reason: str):
        """Enable the (domain, metric) tripwire with `tripwire`'s settings and evaluate it now."""
        changes = {**tripwire, "enabled": True}
        regression.upsert_policy(domain=domain, metric=metric, changes=changes, actor=ACTOR, reason=reason)
        return regression.evaluate(domain=domain, metric=metric, actor=ACTOR)

    def record(self, domain: str, metric: str, samples: list) -> None:
        """Store `samples` as KPI events a millisecond apart, ending now, and always newer than the
        events of an earlier run and its reset (so each run's window, baseline and epoch are its own)."""
        field = "success" if isinstance(samples[0], bool) else "value"
        latest = KpiEvent.objects.filter(domain=domain, metric=metric).aggregate(Max("occurred_at"))["occurred_at__max"]
        start = timezone.now() - dt.timedelta(milliseconds=len(samples))
        if latest is not None:
            start = max(start, latest + dt.timedelta(milliseconds=1))
        # After a reset the tripwire learns from events that occur after it: place them after it.
        start = max(start, self.started_over)
        events = [
            {"domain": domain, "metric": metric, field: sample, "occurred_at": start + dt.timedelta(milliseconds=i)}
            for i, sample in enumerate(samples)
        ]
        regression.record_kpi_batch(events=events, actor=ACTOR)

    def recreate_local_database(self) -> None:
        """Delete and migrate the embedded SQLite file; any other database is left as it is."""
        name = Path(str(connection.settings_dict["NAME"]))
        if connection.vendor != "sqlite" or name != Path(settings.BASE_DIR) / "db.sqlite3":
            self.say(f"Not the embedded SQLite database: telling the story again on top of {connection.vendor}'s rows.")
            return
        connection.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)
        self.say(f"Starting over: {name.name} recreated (ledger, trials, KPI events, states and audit trail).")
        call_command("migrate", "--noinput", verbosity=0)
        call_command("create_demo_operator", stdout=self.stdout)

    def start_over(self) -> None:
        self.started_over = dt.datetime.min.replace(tzinfo=dt.UTC)
        for state in RegressionState.objects.filter(triggered=True).select_related("policy"):
            for alert in alert_selectors.unacknowledged_for(state):
                alerts.acknowledge(alert_id=alert.pk, note="Demo: start over", actor=ACTOR)
            regression.reset(
                domain=state.policy.domain, metric=state.policy.metric, reason="Demo: start over", actor=ACTOR
            )
            self.started_over = timezone.now()
        if golive.get_state().kill_switch_engaged:
            golive.set_kill_switch(engaged=False, reason="Demo: start over", actor=ACTOR)

    def handle(self, *args, base_url: str, start_over: bool = False, **options):
        rng = random.Random(7)
        if start_over:
            self.recreate_local_database()
        self.start_over()

        self.step(1, "Production on, with Risk Guard caps for WHOLESALE and CAPITAL")
        golive.set_go_live(enabled=True, reason="Demo: production on", actor=ACTOR)
        risk.upsert_policy(domain="WHOLESALE", changes=WHOLESALE_CAPS, actor=ACTOR, reason="Demo: caps")
        risk.upsert_policy(domain="CAPITAL", changes=CAPITAL_CAPS, actor=ACTOR, reason="Demo: caps")
        approved = risk.reserve(domain="WHOLESALE", amount="12500", actor=ACTOR, ref="offer/1001")
        risk.settle(reservation_id=approved.pk, realized_pnl="830.00", actor=ACTOR)
        self.say(f"production may execute: {self.decision()}")
        self.say(f"WHOLESALE reserve of 12,500 → {approved.status}, then settled with +830 P&L")

        self.step(2, "Heimdall: WHOLESALE's offer model earns production in the sandbox")
        heimdall.upsert_policy(domain="WHOLESALE", changes={"enabled": True}, actor=ACTOR, reason="Demo")
        for success in samples_at_rate(0.9, 30, rng):
            heimdall.record_trial(domain="WHOLESALE", confidence=0.9, success=success, actor=ACTOR,
                                  model_version="offer-v3")  # fmt: skip
        answer = heimdall.check_prod_eligible(domain="WHOLESALE", confidence=0.9)
        self.say(f"30 trials at 90% success → prod_eligible={answer.prod_eligible} ({answer.reason or 'ok'})")

        self.step(3, "WHOLESALE contract_rate: a 200-event baseline at 95%, then 100 events drifting to 75%")
        contract_rate = samples_at_rate(0.95, 200, rng) + samples_at_rate(0.75, 100, rng)
        self.record("WHOLESALE", "contract_rate", contract_rate)
        self.say("300 KPI events recorded")

        self.step(4, "Enable the WHOLESALE/contract_rate tripwire (window 100, THROTTLE on a drop over 20%); evaluate")
        state = self.watch("WHOLESALE", "contract_rate", CONTRACT_RATE_TRIPWIRE, "Demo: watch contract rate")
        self.say(
            f"baseline {state.baseline_rate:.1%}, current {state.current_rate:.1%}, drop {state.drop_fraction:.1%} "
            f"> 20% → status {state.status}, action {state.action_taken or 'none'}"
        )

        self.step(5, "The WHOLESALE risk policy is throttled: the next reserve is denied")
        denied = risk.reserve(domain="WHOLESALE", amount="9000", actor=ACTOR, ref="offer/1002")
        ledger = risk_selectors.ledger(domain="WHOLESALE")["domains"][0]
        self.say(f"reserve 9,000 → {denied.status}, reason {denied.reason}")
        self.say(f"ledger today: denied {ledger['denied_count']} {ledger['denial_count_by_reason']}")

        self.step(6, "CAPITAL roi_event: ROI around +4% for 200 events, then it crashes below zero")
        baseline = [round(rng.gauss(0.04, 0.01), 4) for _ in range(200)]
        crash = [round(rng.gauss(-0.02, 0.01), 4) for _ in range(50)]
        self.record("CAPITAL", "roi_event", baseline + crash)
        state = self.watch("CAPITAL", "roi_event", ROI_TRIPWIRE, "Demo: watch ROI")
        self.say(
            f"baseline mean {state.baseline_rate:+.4f}, current {state.current_rate:+.4f}, "
            f"drop {state.drop_fraction:.0%} > 30% → status {state.status}, action {state.action_taken or 'none'}"
        )

        self.step(7, "The kill switch is engaged: every PROD_EXEC request is refused")
        production = golive.get_state()
        self.say(
            f"kill_switch_engaged={production.kill_switch_engaged}, go_live_enabled={production.go_live_enabled}; "
            f"may production execute? {self.decision()}"
        )
        self.say(f"reason: {production.reason}")

        self.step(8, "Look at it in the admin (make run, then log in as the demo operator)")
        for label, path in [
            ("Control-plane review", "/admin/"),
            ("Production switches", "/admin/golive/golivestate/"),
            ("Tripwires", "/admin/regression/regressionstate/"),
            ("Risk ledger", "/admin/risk/reservation/"),
            ("Heimdall scorecard", "/admin/heimdall/heimdallpolicy/scorecard/"),
            ("Audit trail", "/admin/audit/auditevent/"),
        ]:
            self.say(f"{label:22} {base_url}{path}")
