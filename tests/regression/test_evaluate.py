"""Evaluation: window and baseline, the strict threshold, zero baselines, the latch, reset, actions."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from golive import services as golive
from governance_site.alerts import reasons as alert_reasons
from governance_site.alerts import selectors as alerts_selectors
from governance_site.alerts import services as alerts
from governance_site.audit.models import AuditEvent
from governance_site.errors import Conflict, InvalidInput, NotFound
from regression import cascade, reasons, selectors, services
from regression.models import KpiEvent, PolicyAction, PolicyKind, RegressionState, TripwireStatus
from risk.models import RiskPolicy
from tests.conftest import acknowledged, requires_postgres

from .conftest import outcomes

pytestmark = pytest.mark.django_db

OPERATOR = "tests/operator"


def evaluate(domain="WHOLESALE", metric="contract_rate", actor=OPERATOR):
    return services.evaluate(domain=domain, metric=metric, actor=actor)


def trigger_events():
    return AuditEvent.objects.filter(action="tripwire.trigger")


def test_evaluate__worked_example_95_to_75__triggered_and_risk_policy_disabled(tripwire, feed, wholesale_risk):
    tripwire(window_events=40)
    feed(outcomes(190, 200))  # baseline: 95%
    feed(outcomes(30, 40))  # window: 75%
    state = evaluate()
    assert state.status == TripwireStatus.TRIGGERED and state.triggered
    assert (state.baseline_rate, state.current_rate) == (0.95, 0.75)
    assert state.drop_fraction == pytest.approx(0.2 / 0.95)
    assert (state.window_count, state.baseline_count) == (40, 200)
    assert state.action_taken == PolicyAction.THROTTLE
    assert state.triggered_at == state.evaluated_at
    assert not RiskPolicy.objects.get(domain="WHOLESALE").enabled
    reason = state.explanation and services.trigger_reason(state)
    assert reason.startswith("Regression: WHOLESALE.contract_rate dropped 21.1% (> 20%); CUSUM ")
    assert f"> {state.threshold:.1f} over 0/10 since " in reason and "vs reference 190/200, p = " in reason
    throttle = AuditEvent.objects.get(lever="risk", action="policy.update")
    assert (throttle.actor, throttle.reason, throttle.after["enabled"]) == (OPERATOR, f"Throttle: {reason}", False)
    event = trigger_events().get()
    assert (event.actor, event.lever, event.reason) == (OPERATOR, "regression", reason)
    assert event.before["triggered"] is False and event.before["status"] == "disabled"  # as seeded
    assert event.after["triggered"] is True and event.after["action_taken"] == "THROTTLE"


def test_evaluate__throttle_without_risk_policy__creates_a_disabled_one(tripwire, feed):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    evaluate()
    assert RiskPolicy.objects.get(domain="WHOLESALE").enabled is False


def test_evaluate__capital_roi_turns_negative__kill_switch_engaged(tripwire, feed, live):
    tripwire("CAPITAL", "roi_event", kind=PolicyKind.MEAN_VALUE, action=PolicyAction.KILL_SWITCH,
             max_drop_fraction=0.30)  # fmt: skip
    feed([10.0] * 200 + [-5.0] * 50, "CAPITAL", "roi_event")
    state = evaluate("CAPITAL", "roi_event")
    assert state.status == TripwireStatus.TRIGGERED
    assert state.drop_fraction == pytest.approx(1.5)  # (10 - -5) / 10: a mean turning negative
    assert state.action_taken == PolicyAction.KILL_SWITCH
    production = golive.get_state()
    assert production.kill_switch_engaged and not production.go_live_enabled
    assert production.reason.startswith("Regression: CAPITAL.roi_event dropped 150% (> 30%); CUSUM ")
    assert "over mean -5 of 50 since " in production.reason and "vs reference mean 10 of 200" in production.reason
    assert golive.may_execute().reason == "kill_switch"


@pytest.mark.parametrize(
    ("samples", "counts"),
    [
        (outcomes(249, 249), (50, 199)),
        (outcomes(40, 40), (40, 0)),
        ([], (0, 0)),
    ],
)
def test_evaluate__window_or_baseline_not_full__insufficient_data_and_no_action(
    tripwire, feed, wholesale_risk, samples, counts
):
    tripwire()
    feed(samples)
    state = evaluate()
    assert state.status == TripwireStatus.INSUFFICIENT_DATA and not state.triggered
    assert (state.window_count, state.baseline_count) == counts
    assert state.drop_fraction is None
    assert RiskPolicy.objects.get(domain="WHOLESALE").enabled


def test_evaluate__events_outside_lookback_or_without_the_field__not_counted(tripwire, feed):
    tripwire(lookback_days=2)
    feed.clock -= dt.timedelta(days=5)
    feed(outcomes(200, 200))  # too old
    feed.clock = timezone.now() - dt.timedelta(hours=1)
    feed([1.0] * 100)  # values only: a SUCCESS_RATE policy does not count them
    feed(outcomes(50, 50))
    state = evaluate()
    assert (state.status, state.window_count, state.baseline_count) == ("insufficient_data", 50, 0)


def test_evaluate__other_domains_and_metrics__not_counted(tripwire, feed):
    tripwire(window_events=2, baseline_events=2)
    feed(outcomes(0, 4), "WHOLESALE", "offer_accept_rate")
    feed(outcomes(0, 4), "CAPITAL", "contract_rate")
    feed(outcomes(4, 4))
    state = evaluate()
    assert (state.status, state.baseline_rate, state.current_rate) == ("ok", 1.0, 1.0)


@pytest.mark.parametrize(
    ("baseline", "window", "status"),
    [
        (outcomes(200, 200), outcomes(40, 50), TripwireStatus.OK),  # exactly 20%
        (outcomes(150, 200), outcomes(30, 50), TripwireStatus.OK),  # exactly 20% (75% → 60%)
        (outcomes(150, 200), outcomes(29, 50), TripwireStatus.TRIGGERED),  # 22.7%
        (outcomes(200, 200), outcomes(39, 50), TripwireStatus.TRIGGERED),  # 22%
    ],
)
def test_evaluate__threshold__strictly_above_triggers(tripwire, feed, baseline, window, status):
    tripwire()
    feed(baseline)
    feed(window)
    assert evaluate().status == status


def test_evaluate__newest_events_are_the_window__ordered_by_occurred_at_then_id(tripwire, feed):
    tripwire(window_events=1, baseline_events=1)
    at = timezone.now() - dt.timedelta(minutes=1)
    older = feed.events([True])[0] | {"occurred_at": at - dt.timedelta(seconds=1)}
    stored_last, stored_first = ({**body, "occurred_at": at} for body in feed.events([True, False]))
    services.record_kpi_batch(events=[stored_first, older, stored_last], actor=OPERATOR)
    # The same occurred_at: the one stored last (the higher id) is the newer, so it is the window.
    state = evaluate()
    assert (state.current_rate, state.baseline_rate) == (1.0, 0.0)


@pytest.mark.parametrize(
    ("kind", "baseline", "window"),
    [
        (PolicyKind.SUCCESS_RATE, outcomes(0, 200), outcomes(0, 50)),
        (PolicyKind.MEAN_VALUE, [1.0, -1.0] * 100, [-0.001] * 50),
        # a mean of 5e-06 on noise of ±1: within one standard error of zero, not a scale to drop from
        (PolicyKind.MEAN_VALUE, [1.001, -1.0] + [1.0, -1.0] * 99, [-0.001] * 50),
    ],
)
def test_evaluate__zero_baseline__undecidable_never_ok_and_no_trip_on_noise(tripwire, feed, kind, baseline, window):
    tripwire(kind=kind)
    feed(baseline + window)
    state = evaluate()
    assert (state.status, state.triggered, state.drop_fraction) == ("undecidable", False, None)
    assert state.baseline_rate == pytest.approx(0.0, abs=1e-5)
    assert state.explanation["decidable"] is False


@pytest.mark.parametrize(
    ("baseline", "window"),
    [
        ([0.0] * 200, [-3.0] * 50),
        ([0.1, 0.2, -0.3] * 66 + [0.0, 0.0], [-1.0] * 50),  # a noisy ROI about zero, then all -1.0
    ],
)
def test_evaluate__zero_baseline_then_clearly_negative__kill_switch_engaged(tripwire, feed, live, baseline, window):
    tripwire("CAPITAL", "roi_event", kind=PolicyKind.MEAN_VALUE, action=PolicyAction.KILL_SWITCH,
             max_drop_fraction=0.30)  # fmt: skip
    feed(baseline + window, "CAPITAL", "roi_event")
    state = evaluate("CAPITAL", "roi_event")
    assert (state.status, state.action_taken, state.drop_fraction) == ("triggered", "KILL_SWITCH", None)
    assert "half a reference deviation" in services.trigger_reason(state)
    assert golive.get_state().kill_switch_engaged


def test_evaluate__disabled_policy__numbers_but_never_acts(tripwire, feed, wholesale_risk):
    tripwire(enabled=False)
    feed(outcomes(200, 200) + outcomes(0, 50))
    state = evaluate()
    assert (state.status, state.triggered, state.drop_fraction) == ("disabled", False, 1.0)
    assert RiskPolicy.objects.get(domain="WHOLESALE").enabled
    assert not trigger_events().exists()


def test_evaluate__unknown_policy__not_found():
    with pytest.raises(NotFound):
        evaluate("WHOLESALE", "no_such_metric")


def test_latch__later_evaluations_keep_numbers_fresh_and_do_not_act_again(tripwire, feed, wholesale_risk):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    evaluate()
    feed(outcomes(50, 50))  # recovered
    state = evaluate(actor="tripwire/beat")
    assert state.status == TripwireStatus.TRIGGERED and state.triggered
    assert (state.current_rate, state.evaluated_by) == (1.0, "tripwire/beat")
    assert trigger_events().count() == 1
    assert AuditEvent.objects.filter(lever="risk", action="policy.update").count() == 1


def test_reset__triggered__latch_released_audited_and_next_drop_acts_again(tripwire, feed, wholesale_risk):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    triggered = evaluate()
    with pytest.raises(Conflict) as refusal:
        services.reset(domain="WHOLESALE", metric="contract_rate", reason="model retrained", actor=OPERATOR)
    assert refusal.value.reason == alert_reasons.NOT_ACKNOWLEDGED
    for alert in alerts_selectors.unacknowledged_for(triggered):
        alerts.acknowledge(alert_id=alert.pk, note="seen", actor=OPERATOR)
    state = services.reset(domain="WHOLESALE", metric="contract_rate", reason="model retrained", actor=OPERATOR)
    # The window still shows the drop: "breaching", never "ok" next to a drop past the threshold.
    assert (state.status, state.triggered, state.action_taken, state.triggered_at) == ("breaching", False, "", None)
    assert "still breaches" in services.reset_warning(state)
    assert (state.epoch, state.explanation["reference_n"]) == (2, 0)
    event = AuditEvent.objects.get(action="tripwire.reset")
    assert (event.actor, event.reason, event.lever) == (OPERATOR, "model retrained", "regression")
    assert event.before["triggered"] is True and event.after["triggered"] is False
    assert event.before["triggered_at"] is not None and event.after["triggered_at"] is None
    # The reset does not undo the throttle: re-enabling the risk policy is a separate step.
    assert not RiskPolicy.objects.get(domain="WHOLESALE").enabled
    # A new epoch: the bad events before the reset are not its reference; it relearns from new ones.
    assert evaluate().status == TripwireStatus.RELEARNING
    feed.clock = timezone.now()
    feed(outcomes(200, 200))
    assert evaluate().status == TripwireStatus.RELEARNING  # a reference, not yet a window judged
    feed(outcomes(0, 50))
    assert evaluate().status == TripwireStatus.TRIGGERED
    assert trigger_events().count() == 2


def test_reset__window_recovered__relearning_and_no_warning(tripwire, feed, wholesale_risk):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    evaluate()
    feed(outcomes(50, 50))  # the window recovers before the reset; the last evaluation saw it
    assert acknowledged(evaluate()).status == TripwireStatus.TRIGGERED  # latched, numbers refreshed
    state = services.reset(domain="WHOLESALE", metric="contract_rate", reason="recovered", actor=OPERATOR)
    # A new epoch learns its reference from events after the reset: relearning, not yet ok.
    assert state.status == TripwireStatus.RELEARNING and services.reset_warning(state) is None


def test_reset__not_triggered__conflict_and_nothing_written(tripwire):
    tripwire()
    with pytest.raises(Conflict) as refusal:
        services.reset(domain="WHOLESALE", metric="contract_rate", reason="why not", actor=OPERATOR)
    assert refusal.value.reason == reasons.NOT_TRIGGERED
    assert not AuditEvent.objects.filter(lever="regression").exclude(action__startswith="policy.").exists()


def test_reset__blank_reason__invalid_input(tripwire):
    tripwire()
    with pytest.raises(InvalidInput) as refusal:
        services.reset(domain="WHOLESALE", metric="contract_rate", reason="  ", actor=OPERATOR)
    assert refusal.value.field == "reason"


def test_status_change__audited_once_per_change(tripwire, feed):
    tripwire("WHOLESALE", "repeat_rate")  # a new policy: its state starts insufficient_data
    evaluate(metric="repeat_rate")  # insufficient_data → insufficient_data: no event
    feed(outcomes(250, 250), metric="repeat_rate")
    evaluate(metric="repeat_rate")  # → ok
    evaluate(metric="repeat_rate")  # ok → ok: no event
    events = list(AuditEvent.objects.filter(action="tripwire.status"))
    assert [(e.before["status"], e.after["status"], e.reason) for e in events] == [
        ("insufficient_data", "ok", "Evaluation: insufficient_data → ok")
    ]


def test_action_fails__nothing_latched_and_next_evaluation_retries(tripwire, feed, monkeypatch):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))

    def broken(**kwargs):
        raise RuntimeError("risk database unreachable")

    monkeypatch.setattr(cascade.risk, "throttle_domain", broken)
    with pytest.raises(RuntimeError):
        evaluate()
    assert not RegressionState.objects.get(policy__metric="contract_rate").triggered
    monkeypatch.undo()
    assert evaluate().status == TripwireStatus.TRIGGERED


def test_evaluate_all__one_failure__others_still_evaluated_and_outcomes_logged(tripwire, feed, monkeypatch, caplog):
    tripwire()
    tripwire("BUYER_MATCH", "match_success")
    feed(outcomes(200, 200) + outcomes(0, 50))
    feed(outcomes(250, 250), "BUYER_MATCH", "match_success")
    monkeypatch.setattr(cascade.risk, "throttle_domain", lambda **kwargs: 1 / 0)
    with caplog.at_level("INFO", logger="regression.services"):
        outcomes_by_policy = services.evaluate_all(actor=reasons.BEAT_ACTOR)
    assert outcomes_by_policy == {"BUYER_MATCH.match_success": "ok", "WHOLESALE.contract_rate": "error"}
    assert "Tripwire WHOLESALE.contract_rate: evaluation failed" in caplog.text
    assert "Tripwire BUYER_MATCH.match_success: ok" in caplog.text


def test_evaluate_all__only_enabled_policies(tripwire):
    tripwire()
    assert services.evaluate_all(actor=reasons.BEAT_ACTOR) == {"WHOLESALE.contract_rate": "insufficient_data"}
    assert RegressionState.objects.filter(evaluated_at__isnull=False).count() == 1  # seeds stay disabled


def _index_scans(plan: dict) -> list[dict]:
    nodes = [plan] if "Index Name" in plan else []
    return nodes + [node for child in plan.get("Plans", []) for node in _index_scans(child)]


@requires_postgres
@pytest.mark.parametrize(("kind", "samples", "index"), [
    (PolicyKind.SUCCESS_RATE, outcomes(300, 300), "kpi_latest_success"),
    (PolicyKind.MEAN_VALUE, [1.0] * 300, "kpi_latest_value"),
])  # fmt: skip
def test_kpi_window__postgres__reads_window_plus_baseline_rows_through_the_kinds_index(
    tripwire, feed, kind, samples, index
):
    policy = tripwire(kind=kind)
    feed(samples)
    feed(samples, "WHOLESALE", "other_metric")
    with CaptureQueriesContext(connection) as queries:
        window, baseline = selectors.kpi_window(policy, now=timezone.now())
    assert (len(window), len(baseline)) == (50, 200)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small would be read whole
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + queries.captured_queries[0]["sql"])
        plan = cursor.fetchone()[0][0]["Plan"]
    [scan] = _index_scans(plan)
    assert (scan["Index Name"], scan["Scan Direction"], scan["Actual Rows"]) == (index, "Backward", 250)


def test_record_kpi_batch__item_without_success_or_value__invalid_input_naming_its_index(feed):
    events = feed.events(outcomes(1, 2))
    del events[1]["success"]
    with pytest.raises(InvalidInput) as refusal:
        services.record_kpi_batch(events=events, actor=OPERATOR)
    assert refusal.value.field == "1.success"
    assert not KpiEvent.objects.exists()
