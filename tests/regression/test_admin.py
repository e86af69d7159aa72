"""The operators' screens: policies through the service, states with evaluate/reset, KPI events read-only."""

import datetime as dt

import numpy as np
import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from governance_site.alerts import selectors as alerts_selectors
from governance_site.alerts import services as alerts
from governance_site.audit.models import AuditEvent
from governance_site.policies import version_of
from regression import services
from regression.models import KpiEvent, RegressionPolicy, RegressionState

from .conftest import outcomes

pytestmark = pytest.mark.django_db

STATES = "/admin/regression/regressionstate/"
EVENTS = "/admin/regression/kpievent/"


def policy_form(**changes):
    return {
        "enabled": "on", "kind": "SUCCESS_RATE", "window_events": 50, "baseline_events": 200,
        "lookback_days": 30, "max_drop_fraction": 0.2, "action": "THROTTLE", "detector": "sequential",
        "mode": "enforce", "false_alarm_events": 50_000, "stale_after_hours": 48, "reason": "tuning", **changes,
    }  # fmt: skip


def wholesale_state() -> RegressionState:
    return RegressionState.objects.get(policy__domain="WHOLESALE", policy__metric="contract_rate")


@pytest.fixture
def triggered(tripwire, feed, wholesale_risk):
    tripwire()
    feed(outcomes(200, 200) + outcomes(0, 50))
    return services.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tests/setup")


def test_policy_change__with_reason__saved_through_the_service_and_audited(client, operator):
    client.force_login(operator)
    policy = RegressionPolicy.objects.get(domain="WHOLESALE", metric="contract_rate")
    url = f"/admin/regression/regressionpolicy/{policy.pk}/change/"
    assert client.get(url).status_code == 200
    form = policy_form(max_drop_fraction=0.1, reason="enable after review", version=version_of(policy))
    response = client.post(url, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert (policy.enabled, policy.max_drop_fraction, policy.changed_by) == (True, 0.1, "op")
    event = AuditEvent.objects.get(action="policy.update")
    assert (event.actor, event.reason, event.before["enabled"], event.after["enabled"]) == (
        "op", "enable after review", False, True,
    )  # fmt: skip


def test_policy_change__reason_required_or_out_of_range__form_errors_and_nothing_changes(client, operator, settings):
    settings.GOVERNANCE_REQUIRE_REASON = True
    client.force_login(operator)
    policy = RegressionPolicy.objects.get(domain="WHOLESALE", metric="contract_rate")
    url = f"/admin/regression/regressionpolicy/{policy.pk}/change/"
    for form in (policy_form(reason=""), policy_form(max_drop_fraction=1.5), policy_form(window_events=0)):
        assert client.post(url, {**form, "version": version_of(policy)}).status_code == 200
    policy.refresh_from_db()
    assert (policy.enabled, policy.max_drop_fraction) == (False, 0.2)
    assert not AuditEvent.objects.exists()


def test_policy_add__normalised_key_with_its_state(client, operator):
    client.force_login(operator)
    response = client.post(
        "/admin/regression/regressionpolicy/add/", policy_form(domain="capital", metric="Deal_Margin")
    )
    assert response.status_code == 302
    policy = RegressionPolicy.objects.get(domain="CAPITAL", metric="deal_margin")
    assert policy.state.status == "insufficient_data"
    assert AuditEvent.objects.get(action="policy.create").reason == "tuning"


def test_policy_delete__refused(client, operator):
    client.force_login(operator)
    policy = RegressionPolicy.objects.first()
    assert client.post(f"/admin/regression/regressionpolicy/{policy.pk}/delete/", {"post": "yes"}).status_code == 403


def test_states__colours_comparison_and_actions_for_operators(client, operator, triggered):
    client.force_login(operator)
    page = client.get(STATES).content.decode()
    assert "#b00020" in page and "triggered" in page  # triggered in red
    assert "#666666" in page  # the disabled seeds in grey
    assert "100.0% → 0.0% (100.0% / 20%)" in page
    assert "evaluate_now" in page and "reset_tripwires" in page
    detail = client.get(f"{STATES}{triggered.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content


def test_states__viewer__no_actions(client, viewer, triggered):
    client.force_login(viewer)
    page = client.get(STATES).content.decode()
    assert "triggered" in page and "reset_tripwires" not in page
    client.post(STATES, {"action": "reset_tripwires", ACTION_CHECKBOX_NAME: [triggered.pk], "apply": "1",
                         "reason": "x"})  # fmt: skip
    assert wholesale_state().triggered


def test_evaluate_now__action__evaluated_as_the_operator(client, operator, tripwire):
    tripwire()
    client.force_login(operator)
    state = wholesale_state()
    response = client.post(STATES, {"action": "evaluate_now", ACTION_CHECKBOX_NAME: [state.pk]}, follow=True)
    assert b"Evaluated: WHOLESALE.contract_rate." in response.content
    state.refresh_from_db()
    assert (state.status, state.evaluated_by) == ("insufficient_data", "op")


def test_reset__asks_for_a_reason_then_resets_and_audits(client, operator, triggered):
    client.force_login(operator)
    selected = {"action": "reset_tripwires", ACTION_CHECKBOX_NAME: [triggered.pk]}
    confirm = client.post(STATES, selected)
    assert confirm.status_code == 200
    assert b"Reset tripwires?" in confirm.content and b"WHOLESALE.contract_rate" in confirm.content
    assert wholesale_state().triggered
    without_reason = client.post(STATES, {**selected, "apply": "1", "reason": ""})
    assert b"This field is required" in without_reason.content
    assert wholesale_state().triggered
    unacknowledged = client.post(STATES, {**selected, "apply": "1", "reason": "retrained"}, follow=True)
    assert b"has an unacknowledged alert" in unacknowledged.content and wholesale_state().triggered
    [alert] = alerts_selectors.unacknowledged_for(triggered)
    alerts.acknowledge(alert_id=alert.pk, note="looking into it", actor=operator)
    done = client.post(STATES, {**selected, "apply": "1", "reason": "retrained"}, follow=True)
    assert b"Reset: WHOLESALE.contract_rate." in done.content
    assert not wholesale_state().triggered
    assert AuditEvent.objects.get(action="tripwire.reset").reason == "retrained"


def test_reset__not_triggered__warning_and_nothing_written(client, operator):
    client.force_login(operator)
    state = wholesale_state()
    response = client.post(
        STATES, {"action": "reset_tripwires", ACTION_CHECKBOX_NAME: [state.pk], "apply": "1", "reason": "x"},
        follow=True,
    )  # fmt: skip
    assert b"not triggered" in response.content
    assert not AuditEvent.objects.filter(action="tripwire.reset").exists()


def test_kpi_events__filter_by_domain_metric_and_date__read_only(client, viewer, feed):
    feed(outcomes(2, 3))
    feed([1.5], "CAPITAL", "roi_event")
    client.force_login(viewer)
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    past_7_days = {"occurred_at__gte": str(today - dt.timedelta(days=7)), "occurred_at__lt": str(today)}
    listing = client.get(EVENTS, {"domain": "CAPITAL", "metric": "roi_event", **past_7_days})
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    assert b"Past 7 days" in listing.content
    assert client.get(EVENTS, {"occurred_at__gte": str(today)}).context["cl"].result_count == 0
    assert len(client.get(EVENTS, {"domain": "WHOLESALE"}).context["cl"].result_list) == 3
    assert b"/admin/regression/kpievent/add/" not in listing.content
    event = KpiEvent.objects.first()
    detail = client.get(f"{EVENTS}{event.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content


def test_kpi_events__operator__cannot_change_or_delete(client, operator, feed):
    feed([True])
    client.force_login(operator)
    event = KpiEvent.objects.get()
    assert client.post(f"{EVENTS}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"{EVENTS}{event.pk}/change/", {"success": "false"}).status_code == 403
    assert KpiEvent.objects.get().success is True


def test_policy_page__backtest_button__chart_trips_and_false_trip_estimate(client, operator, tripwire, feed):
    policy = tripwire()
    rng = np.random.default_rng(20261130)
    feed((rng.random(1400) < np.repeat([0.95, 0.6, 0.95], [800, 200, 400])).tolist())
    client.force_login(operator)
    page = client.get(f"/admin/regression/regressionpolicy/{policy.pk}/change/").content.decode()
    url = f"/admin/regression/regressionpolicy/{policy.pk}/backtest/"
    assert f'href="{url}"' in page
    audited = AuditEvent.objects.count()
    backtest = client.get(url).content.decode()
    assert '<strong id="backtest-trips">1 trip</strong>' in backtest
    assert 'class="gov-chart"' in backtest and "trip 1" in backtest
    assert "of 200 simulated streams of 5000 events tripped (seed 20261130)" in backtest
    assert AuditEvent.objects.count() == audited


def test_state_page__sequential_verdict__statistic_interval_evidence_reference(client, viewer, triggered):
    client.force_login(viewer)
    page = client.get(f"{STATES}{triggered.pk}/change/").content.decode()
    summary = page[page.index('id="tripwire-summary"') :]
    assert f"{triggered.statistic:.2f} / {triggered.threshold:.2f}" in summary
    assert "0.0% of 50" in summary and "100.0% of 200" in summary  # evidence and reference
    assert "Late events</th><td>0" in summary
    assert f"about {triggered.explanation['expected_delay']:,.0f} events" in summary


@pytest.mark.parametrize(("action", "audited"), [
    ("rebaseline_last_week", "tripwire.rebaseline"), ("undo_rebaseline", "tripwire.rebaseline_undo"),
])  # fmt: skip
def test_rebaseline_actions__ask_for_a_reason_then_audited(client, operator, tripwire, feed, action, audited):
    tripwire()
    feed(outcomes(300, 300))
    state = wholesale_state()
    if action == "undo_rebaseline":
        services.rebaseline(domain="WHOLESALE", metric="contract_rate", reason="setup", actor="tests/setup")
    client.force_login(operator)
    selected = {"action": action, ACTION_CHECKBOX_NAME: [state.pk]}
    confirm = client.post(STATES, selected)
    assert b'name="reason"' in confirm.content and not AuditEvent.objects.filter(action=audited, actor="op").exists()
    client.post(STATES, {**selected, "apply": "1", "reason": "a good week"}, follow=True)
    assert AuditEvent.objects.get(action=audited, actor="op").reason == "a good week"
