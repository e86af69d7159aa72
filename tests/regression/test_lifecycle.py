"""The sequential tripwire through the services: bursts between evaluations, cadence, epochs,
rebaseline and undo, stale, late events, dry run, evaluation on ingest, backtest."""

import datetime as dt
import importlib

import numpy as np
import pytest
from django.apps import apps as django_apps
from django.utils import timezone
from kombu.exceptions import OperationalError

from golive import services as golive
from governance_site.audit.models import AuditEvent
from governance_site.errors import Conflict, InvalidInput
from regression import detectors, models, reasons, selectors, services, tasks
from regression.models import KpiEvent, RegressionPolicy, RegressionState
from risk.models import RiskPolicy
from tests.conftest import acknowledged

from .conftest import outcomes

pytestmark = pytest.mark.django_db

OPERATOR = "tests/operator"
KEY = {"domain": "WHOLESALE", "metric": "contract_rate"}


def evaluate(actor=OPERATOR):
    return services.evaluate(**KEY, actor=actor)


def flags(seed: int, rate: float, count: int) -> list[bool]:
    return (np.random.default_rng(seed).random(count) < rate).tolist()


def test_burst_larger_than_window_plus_baseline__caught_at_the_next_evaluation(tripwire, feed, wholesale_risk):
    """The issue's case: 95% falling to 60% with 600 events between two evaluations. The spec's
    window and baseline are both inside the burst (no visible drop), the detector saw every event."""
    tripwire()
    feed(flags(1, 0.95, 400))
    assert evaluate().status == models.TripwireStatus.OK
    feed(flags(2, 0.60, 600))
    state = evaluate()
    assert state.status == models.TripwireStatus.TRIGGERED and not RiskPolicy.objects.get(domain="WHOLESALE").enabled
    assert state.drop_fraction < 0.20  # the spec's numbers alone would say ok
    assert state.explanation["reference_n"] >= 200 and state.explanation["p_value"] < 0.001
    tripped = dt.datetime.fromisoformat(state.explanation["tripped_at"])
    assert tripped - feed.clock < dt.timedelta(0)  # it tripped inside the burst, at the event


def test_first_evaluation__reads_the_lookback_in_bounded_chunks__same_verdict(tripwire, feed, monkeypatch):
    """A policy enabled after 1,000 events decides from all of them, READ_CHUNK rows per read at
    most, and trips at the same event, with the same estimated start, as in one read."""
    samples = flags(5, 0.9, 700) + flags(6, 0.55, 300)
    reads, read = [], selectors.kpi_events_in_order
    monkeypatch.setattr(selectors, "kpi_events_in_order", lambda *a, **kw: reads.append(read(*a, **kw)) or reads[-1])
    verdicts = {}
    for metric, chunk in (("chunked", 64), ("whole", 100_000)):
        monkeypatch.setattr(services, "READ_CHUNK", chunk)
        tripwire(metric=metric)
        feed(samples, metric=metric)
        reads.clear()
        state = services.evaluate(domain="WHOLESALE", metric=metric, actor=OPERATOR)
        assert state.status == models.TripwireStatus.TRIGGERED
        assert max(len(events.ids) for events in reads) <= chunk
        first = KpiEvent.objects.filter(metric=metric).earliest("occurred_at").occurred_at
        moments = [dt.datetime.fromisoformat(state.explanation[key]) - first for key in ("tripped_at", "change_at")]
        verdicts[metric] = (len(reads), *moments)
    assert verdicts["chunked"][0] > 10 and verdicts["whole"][0] == 1
    assert verdicts["chunked"][1:] == verdicts["whole"][1:]


def test_evaluation_cadence__every_25_events_or_once__trips_at_the_same_event(tripwire, feed):
    samples = flags(3, 0.8, 700) + flags(4, 0.45, 300)
    tripped_at = {}
    for metric, every in (("often", 25), ("once", len(samples))):
        tripwire(metric=metric)
        for start in range(0, len(samples), every):
            feed(samples[start : start + every], metric=metric)
            state = services.evaluate(domain="WHOLESALE", metric=metric, actor=OPERATOR)
        assert state.status == models.TripwireStatus.TRIGGERED
        moment = dt.datetime.fromisoformat(state.explanation["tripped_at"])
        tripped_at[metric] = KpiEvent.objects.filter(metric=metric, occurred_at__lte=moment).count()
    assert tripped_at["often"] == tripped_at["once"] > 700


def test_reset__new_epoch_learns_from_events_after_it_not_the_bad_window(tripwire, feed, wholesale_risk):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    acknowledged(evaluate())  # an operator has seen the trip, as a reset requires
    services.reset(**KEY, reason="fixed the model", actor=OPERATOR)
    feed.clock = timezone.now()
    feed(flags(5, 0.7, 260))
    state = evaluate()
    assert (state.status, state.epoch) == (models.TripwireStatus.OK, 2)
    assert state.explanation["reference_n"] == 200
    assert state.explanation["reference_mean"] == pytest.approx(np.mean(flags(5, 0.7, 260)[:200]))


def test_rebaseline__pins_the_good_week_and_undo_restores__both_audited(tripwire, feed):
    tripwire()
    feed.clock = timezone.now() - dt.timedelta(days=9)
    feed(flags(6, 0.9, 300))  # the good week
    feed.clock = timezone.now() - dt.timedelta(hours=1)
    feed(flags(7, 0.9, 300))
    before = evaluate()
    start, end = timezone.now() - dt.timedelta(days=10), timezone.now() - dt.timedelta(days=2)
    state = services.rebaseline(**KEY, start=start, end=end, reason="Friday: a good week", actor=OPERATOR)
    assert (state.epoch, state.explanation["reference_n"], state.explanation["reference_pinned"]) == (2, 300, True)
    event = AuditEvent.objects.get(action="tripwire.rebaseline")
    assert (event.actor, event.reason, event.before["epoch"], event.after["epoch"]) == (
        OPERATOR, "Friday: a good week", 1, 2,
    )  # fmt: skip
    assert evaluate().explanation["judged"] == 300  # the events after the week, against it
    state = services.undo_rebaseline(**KEY, reason="wrong week", actor=OPERATOR)
    assert (state.epoch, state.detector_state, state.processed_id) == (1, before.detector_state, before.processed_id)
    undo = AuditEvent.objects.get(action="tripwire.rebaseline_undo")
    assert (undo.reason, undo.before["epoch"], undo.after["epoch"]) == ("wrong week", 2, 1)
    with pytest.raises(Conflict) as refusal:
        services.undo_rebaseline(**KEY, reason="again", actor=OPERATOR)
    assert refusal.value.reason == reasons.NO_REBASELINE


def test_rebaseline__fewer_events_than_a_baseline__refused_naming_start(tripwire, feed):
    tripwire()
    feed(outcomes(100, 100))
    with pytest.raises(InvalidInput) as refusal:
        services.rebaseline(**KEY, reason="too few", actor=OPERATOR)
    assert refusal.value.field == "start"
    assert not AuditEvent.objects.filter(action="tripwire.rebaseline").exists()


def test_stale__no_event_for_longer_than_configured__stale_said_not_throttled(tripwire, feed, wholesale_risk, caplog):
    tripwire(stale_after_hours=6)
    feed.clock = timezone.now() - dt.timedelta(hours=7)
    feed(outcomes(250, 250))
    with caplog.at_level("WARNING", logger="regression.services"), pytest.MonkeyPatch.context():
        state = evaluate()
    assert (state.status, state.triggered) == (models.TripwireStatus.STALE, False)
    assert RiskPolicy.objects.get(domain="WHOLESALE").enabled
    assert AuditEvent.objects.get(action="tripwire.status").after["status"] == "stale"


def test_late_events__counted_shown_and_not_fed_to_the_reference(tripwire, feed):
    tripwire()
    feed(outcomes(250, 250))
    first = evaluate()
    late = [{**body, "occurred_at": body["occurred_at"] - dt.timedelta(hours=2)} for body in feed.events([False] * 7)]
    services.record_kpi_batch(events=late, actor=OPERATOR)
    feed([True] * 5)
    state = evaluate()
    assert state.late_events == 7
    assert state.explanation["reference_n"] == first.explanation["reference_n"] == 200
    assert state.explanation["judged"] == first.explanation["judged"] + 5
    assert evaluate().late_events == 7  # counted once


@pytest.mark.parametrize(
    ("action", "verb"), [(models.PolicyAction.THROTTLE, "THROTTLEd"), (models.PolicyAction.KILL_SWITCH, "KILLed")]
)
def test_dry_run__records_what_it_would_have_done_and_never_acts(tripwire, feed, wholesale_risk, live, action, verb):
    tripwire(mode=models.PolicyMode.DRY_RUN, action=action)
    feed(outcomes(200, 200) + outcomes(0, 50))
    other_levers = AuditEvent.objects.filter(lever__in=["risk", "golive"]).count()
    state = evaluate()
    assert (state.status, state.triggered, state.action_taken) == ("triggered", True, "")
    assert state.would_have_taken == action
    assert RiskPolicy.objects.get(domain="WHOLESALE").enabled
    assert not golive.get_state().kill_switch_engaged
    event = AuditEvent.objects.get(action="tripwire.dry_run")
    assert event.reason.startswith(f"Dry run: would have {verb}. Regression: WHOLESALE.contract_rate dropped 100%")
    assert not AuditEvent.objects.filter(action="tripwire.trigger").exists()
    assert AuditEvent.objects.filter(lever__in=["risk", "golive"]).count() == other_levers


def test_ingest__enqueues_one_evaluation_per_policy_after_commit(tripwire, feed, monkeypatch,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    tripwire()
    sent = []
    monkeypatch.setattr(tasks.evaluate_tripwire, "delay", lambda state_id: sent.append(state_id))
    with django_capture_on_commit_callbacks(execute=True):
        feed(outcomes(200, 200))
    with django_capture_on_commit_callbacks(execute=True):
        feed(outcomes(0, 50))  # queued already: not enqueued again
        services.record_kpi(**KEY, success=False, actor=OPERATOR)
    state = RegressionState.objects.get(policy__metric="contract_rate")
    assert sent == [state.pk] and state.evaluation_queued
    assert tasks.evaluate_tripwire(state.pk) == "triggered"
    state.refresh_from_db()
    assert (state.evaluated_by, state.evaluation_queued) == (reasons.INGEST_ACTOR, False)


def test_ingest__broker_down__event_stored_answered_and_left_to_beat(tripwire, api, engine, monkeypatch,
                                                                   django_capture_on_commit_callbacks):  # fmt: skip
    """The broker refusing the on-ingest evaluation is no reason to fail an event already stored."""
    tripwire()

    def broker_down(state_id):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.evaluate_tripwire, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api(engine).post("/api/governance/regression/kpi", {**KEY, "success": True}, format="json")
    assert len(callbacks) == 1  # the on-ingest evaluation was asked for, and its failure swallowed
    assert response.status_code == 201, response.content
    assert KpiEvent.objects.filter(pk=response.json()["id"]).exists()
    # Not left marked as queued: the next ingest tries again, and beat evaluates meanwhile.
    assert RegressionState.objects.get(policy__metric="contract_rate").evaluation_queued is False


def test_ingest__other_or_disabled_policies__nothing_enqueued(tripwire, feed, monkeypatch,
                                                             django_capture_on_commit_callbacks):  # fmt: skip
    tripwire(enabled=False)
    sent = []
    monkeypatch.setattr(tasks.evaluate_tripwire, "delay", lambda state_id: sent.append(state_id))
    with django_capture_on_commit_callbacks(execute=True):
        feed(outcomes(10, 10))
        feed(outcomes(10, 10), "WHOLESALE", "unwatched_metric")
    assert sent == []


def two_episode_history(feed) -> list[dt.datetime]:
    """7,000 events, one a second, at 90%, with drops to 55% at 2,000-2,500 and 5,000-5,400;
    returns the two drops' first occurred_at."""
    feed.clock = timezone.now() - dt.timedelta(days=1)
    samples = flags(8, 0.9, 7000)
    samples[2000:2500] = flags(9, 0.55, 500)
    samples[5000:5400] = flags(10, 0.55, 400)
    bodies = feed.events(samples)
    services.record_kpi_batch(events=bodies, actor=OPERATOR)
    return [bodies[2000]["occurred_at"], bodies[5000]["occurred_at"]]


def test_backtest__two_drift_episodes__both_found_with_their_start_and_reset(tripwire, feed):
    tripwire()
    starts = two_episode_history(feed)
    audited = AuditEvent.objects.count()
    result = services.backtest(**KEY)
    assert result.events == 7000 and len(result.episodes) == 2
    for episode, start in zip(result.episodes, starts, strict=True):
        assert abs(episode["change_at"] - start) < dt.timedelta(seconds=60)
        assert dt.timedelta(0) < episode["tripped_at"] - start < dt.timedelta(seconds=150)
        assert episode["reset_at"] > episode["tripped_at"] and episode["drop"] > 0.2
    assert result.false_trips["streams"] == services.FALSE_TRIP_STREAMS
    assert result.false_trips["rate"] <= 0.05
    assert AuditEvent.objects.count() == audited  # a backtest writes nothing
    window_rule = services.backtest(**KEY, changes={"detector": "window_drop", "max_drop_fraction": 0.15})
    assert window_rule.policy.detector == "window_drop" and window_rule.policy.pk
    assert RegressionState.objects.get(policy=window_rule.policy).policy.detector == "sequential"  # draft unsaved


def test_backtest__draft_with_bad_field__refused_naming_it(tripwire):
    tripwire()
    with pytest.raises(InvalidInput) as refusal:
        services.backtest(**KEY, changes={"window_events": 0})
    assert refusal.value.field == "window_events"


def test_backtest__mean_value_policy_not_saved_yet__replays_a_draft(feed):
    feed([0.04, 0.05, 0.03, 0.05] * 100 + [-0.5] * 60, "CAPITAL", "new_roi")
    result = services.backtest(domain="CAPITAL", metric="new_roi", changes={"kind": models.PolicyKind.MEAN_VALUE})
    assert result.policy.pk is None and len(result.episodes) == 1
    assert result.episodes[0]["tripped_index"] >= 400


def test_dry_run__shown_in_the_review(tripwire, feed, api, viewer):
    tripwire(mode=models.PolicyMode.DRY_RUN)
    feed(outcomes(200, 200) + outcomes(0, 50))
    evaluate()
    [tripwire_row] = api(viewer).get("/api/governance/review").json()["triggered_tripwires"]
    assert (tripwire_row["action_taken"], tripwire_row["would_have_taken"]) == ("", "THROTTLE")


def test_kind_changed__what_was_learned_is_dropped_and_the_epoch_judged_again(tripwire, feed):
    tripwire()
    bodies = [body | {"value": 5.0} for body in feed.events(outcomes(300, 300))]
    services.record_kpi_batch(events=bodies, actor=OPERATOR)
    assert evaluate().explanation["reference_mean"] == 1.0
    services.upsert_policy(**KEY, changes={"kind": models.PolicyKind.MEAN_VALUE}, actor=OPERATOR, reason="value")
    state = evaluate()
    assert (state.explanation["reference_mean"], state.explanation["epoch_events"]) == (5.0, 300)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("window_successes", "status"), [(37, "triggered"), (39, "ok")])
def test_spec_examples__policy_enabled_after_its_events__decides_at_its_first_evaluation(
    feed, wholesale_risk, seed, window_successes, status
):
    """200 events at 95%, then 50 at 74% (a 22.1% drop) triggers; at 78% (17.9% < 20%) it does not:
    with the defaults, the events shuffled, the policy enabled only after they arrived."""
    rng = np.random.default_rng(seed)
    baseline, window = outcomes(190, 200), outcomes(window_successes, 50)
    rng.shuffle(baseline)
    rng.shuffle(window)
    feed(baseline + window)
    services.upsert_policy(**KEY, changes={"enabled": True}, actor=OPERATOR, reason="switch it on")
    state = evaluate()
    assert (state.status, state.baseline_rate, state.current_rate) == (status, 0.95, window_successes / 50)
    assert RiskPolicy.objects.get(domain="WHOLESALE").enabled is (status == "ok")


def test_budget_migration__only_the_old_default_moved__audited_where_the_policy_has_a_trail():
    """Migration 0010: the budget is now the exact run length, and rows still at the old default
    (50,000, which now means several times the false trips) move to the new one; a budget an
    operator chose stays. A policy with audit events gets one for the move, before and after; a
    seeded row (created by a migration, never audited) moves as it was created."""
    budget_migration = importlib.import_module("regression.migrations.0010_false_alarm_run_length")
    seeded = RegressionPolicy.objects.order_by("pk")
    assert {policy.false_alarm_events for policy in seeded} == {detectors.DEFAULT_FALSE_ALARM_EVENTS}
    changed, chosen, untouched = seeded[0], seeded[1], seeded[2]
    key = {"domain": changed.domain, "metric": changed.metric}
    services.upsert_policy(**key, changes={"false_alarm_events": budget_migration.OLD}, actor=OPERATOR, reason="r")
    RegressionPolicy.objects.filter(pk=chosen.pk).update(false_alarm_events=70_000)
    RegressionPolicy.objects.filter(pk=untouched.pk).update(false_alarm_events=budget_migration.OLD)
    budget_migration.move_default(django_apps, None)
    moved = {
        p.pk: p.false_alarm_events
        for p in RegressionPolicy.objects.filter(pk__in=[changed.pk, chosen.pk, untouched.pk])
    }
    assert moved == {changed.pk: budget_migration.NEW, chosen.pk: 70_000, untouched.pk: budget_migration.NEW}
    events = AuditEvent.objects.filter(actor=budget_migration.ACTOR)
    assert [(e.object_id, e.action) for e in events] == [(str(changed.pk), "policy.update")]
    assert (events[0].before["false_alarm_events"], events[0].after["false_alarm_events"]) == (
        budget_migration.OLD,
        budget_migration.NEW,
    )
    assert RegressionPolicy.objects.get(pk=changed.pk).changed_by == budget_migration.ACTOR
