import datetime as dt

import pytest

from golive import services as golive
from golive.models import GoLiveState
from governance_site.audit.models import AppendOnlyError, AuditEvent
from governance_site.errors import InvalidInput, exception_handler
from heimdall import reasons, services
from heimdall.models import HeimdallPolicy, SandboxTrial

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 13, 15, 0, tzinfo=dt.UTC)


def check(confidence=0.9, **kwargs):
    return services.check_prod_eligible(domain=kwargs.pop("domain", "WHOLESALE"), confidence=confidence, **kwargs)


def test_check__each_reason_in_order__first_that_applies(operator, make_policy, add_trials):
    """Start with every reason applying, then lift them one at a time."""
    golive.set_kill_switch(engaged=True, reason="drill", actor=operator)
    add_trials(successes=1, failures=2)
    assert check(confidence=0.5).reason == "kill_switch"

    golive.set_kill_switch(engaged=False, reason="drill over", actor=operator)
    assert check(confidence=0.5).reason == "go_live_disabled"

    golive.set_go_live(enabled=True, reason="launch", actor=operator)
    assert check(confidence=0.5).reason == reasons.NO_POLICY

    make_policy(enabled=False)
    assert check(confidence=0.5).reason == reasons.POLICY_DISABLED

    make_policy(enabled=True)
    assert check(confidence=0.5).reason == reasons.CONFIDENCE_BELOW_MIN

    assert check(confidence=0.9).reason == reasons.INSUFFICIENT_TRIALS

    add_trials(failures=1)
    assert check(confidence=0.9).reason == reasons.SUCCESS_RATE_BELOW_MIN

    add_trials(successes=8)  # 9 of 12 = 0.75, exactly the minimum
    assert check(confidence=0.8) == services.Eligibility(prod_eligible=True, reason=None, trials=12, success_rate=0.75)


def test_check__go_live_state_missing__state_unavailable(live, make_policy, add_trials):
    make_policy()
    add_trials(successes=4)
    GoLiveState.objects.all().delete()
    assert check().reason == "state_unavailable"


def test_check__no__still_reports_the_record(make_policy, add_trials):
    make_policy()
    add_trials(successes=2, failures=1)
    assert check() == services.Eligibility(
        prod_eligible=False, reason="go_live_disabled", trials=3, success_rate=0.6667, detail="go_live_disabled"
    )


def test_check__unknown_domain__no_policy_without_record(live):
    assert check(domain="nowhere") == services.Eligibility(
        prod_eligible=False, reason=reasons.NO_POLICY, trials=None, success_rate=None
    )


def test_check__model_version__only_that_versions_trials_count(live, make_policy, add_trials):
    make_policy()
    add_trials(successes=4, model_version="offer-v1")
    add_trials(successes=1, failures=3, model_version="offer-v2")

    v1 = check(model_version="offer-v1")
    assert (v1.prod_eligible, v1.trials, v1.success_rate) == (True, 4, 1.0)
    v2 = check(model_version="offer-v2")
    assert (v2.reason, v2.trials, v2.success_rate) == (reasons.SUCCESS_RATE_BELOW_MIN, 4, 0.25)
    retrained = check(model_version="offer-v3")
    assert (retrained.reason, retrained.trials) == (reasons.INSUFFICIENT_TRIALS, 0)
    every_version = check()
    assert (every_version.reason, every_version.trials) == (reasons.SUCCESS_RATE_BELOW_MIN, 8)


def test_check__trial_window__starts_exactly_window_days_before_now(live, make_policy, add_trials):
    make_policy(trial_window_days=14, min_sandbox_trials=4)
    start = NOW - dt.timedelta(days=14)
    add_trials(successes=3, at=start + dt.timedelta(hours=1))
    add_trials(successes=1, at=start - dt.timedelta(microseconds=1))
    assert (check(now=NOW).reason, check(now=NOW).trials) == (reasons.INSUFFICIENT_TRIALS, 3)

    add_trials(successes=1, at=start)
    assert check(now=NOW).prod_eligible is True
    assert check(now=NOW + dt.timedelta(microseconds=1)).trials == 3  # the oldest just left the window


def test_check__invalid_input__invalid_input_naming_field(live, make_policy):
    make_policy()
    for bad, field in [
        ({"confidence": float("nan")}, "confidence"),
        ({"confidence": 1.01}, "confidence"),
        ({"confidence": "0.9"}, "confidence"),
        ({"domain": "whole sale"}, "domain"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            check(**bad)
        assert caught.value.field == field


def test_require_prod_eligible__no__raises_carrying_reason_shaped_423_by_drf(make_policy):
    make_policy()
    with pytest.raises(services.NotProdEligible) as caught:
        services.require_prod_eligible(domain="WHOLESALE", confidence=0.9)
    assert caught.value.reason == "go_live_disabled"
    assert caught.value.eligibility.prod_eligible is False
    response = exception_handler(caught.value, {})  # if it escapes an engine's DRF view
    assert response.status_code == 423
    assert response.data == {
        "detail": "Not eligible for production: go_live_disabled.",
        "field": None,
        "reason": "go_live_disabled",
    }


def test_require_prod_eligible__yes__returns_answer(live, make_policy, add_trials):
    make_policy()
    add_trials(successes=4)
    answer = services.require_prod_eligible(domain="wholesale", confidence=0.95)
    assert answer.prod_eligible is True


def test_record_trial__stored_with_actor_and_normalised_domain(engine):
    trial = services.record_trial(domain="buyer_match", confidence=0.7, success=True, actor=engine, model_version="m-2")
    trial.refresh_from_db()
    assert (trial.domain, trial.model_version, trial.recommendation_ref) == ("BUYER_MATCH", "m-2", "")
    assert (trial.confidence, trial.success, trial.actor) == (0.7, True, "engine-bot")


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"confidence": float("inf")}, "confidence"),
        ({"confidence": -0.1}, "confidence"),
        ({"domain": ""}, "domain"),
        ({"success": None}, "success"),
        ({"model_version": "v" * 65}, "model_version"),
    ],
)
def test_record_trial__invalid_input__nothing_written(engine, bad, field):
    with pytest.raises(InvalidInput) as caught:
        services.record_trial(**{"domain": "WHOLESALE", "confidence": 0.5, "success": True, **bad}, actor=engine)
    assert caught.value.field == field
    assert not SandboxTrial.objects.exists()


def test_trials__append_only(engine):
    trial = services.record_trial(domain="WHOLESALE", confidence=0.5, success=False, actor=engine)
    trial.success = True
    for attempt in (trial.save, trial.delete, SandboxTrial.objects.all().delete):
        with pytest.raises(AppendOnlyError):
            attempt()
    with pytest.raises(AppendOnlyError):
        SandboxTrial.objects.update(success=True)
    assert SandboxTrial.objects.get().success is False


def test_upsert_policy__create_then_change__both_audited(operator):
    policy, created = services.upsert_policy(domain="capital", changes={}, actor=operator, reason="new lever")
    assert created is True
    assert (policy.domain, policy.enabled, policy.min_confidence_prod, policy.min_sandbox_trials) == (
        "CAPITAL", False, 0.8, 20,
    )  # fmt: skip
    assert (policy.min_success_rate, policy.trial_window_days, policy.changed_by) == (0.8, 14, "op")

    policy, created = services.upsert_policy(
        domain="CAPITAL", changes={"enabled": True, "min_success_rate": 0.9}, actor=operator, reason="Friday"
    )
    assert created is False
    create, update = AuditEvent.objects.order_by("id")
    assert (create.lever, create.action, create.actor, create.reason) == (
        "heimdall",
        "policy.create",
        "op",
        "new lever",
    )
    assert create.before is None and create.after["domain"] == "CAPITAL"
    assert (update.action, update.reason, update.actor_user) == ("policy.update", "Friday", operator)
    assert (update.before["enabled"], update.before["min_success_rate"]) == (False, 0.8)
    assert (update.after["enabled"], update.after["min_success_rate"]) == (True, 0.9)
    assert update.object_id == str(policy.pk)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"min_confidence_prod": float("nan")}, "min_confidence_prod"),
        ({"min_success_rate": 1.5}, "min_success_rate"),
        ({"min_sandbox_trials": 0}, "min_sandbox_trials"),
        ({"trial_window_days": 0}, "trial_window_days"),
        ({"trial_window_days": 366}, "trial_window_days"),
        ({"domain": "OTHER"}, "domain"),
        ({"changed_by": "someone else"}, "changed_by"),
    ],
)
def test_upsert_policy__invalid_change__refused_and_nothing_written(operator, changes, field):
    with pytest.raises(InvalidInput) as caught:
        services.upsert_policy(domain="CAPITAL", changes=changes, actor=operator)
    assert caught.value.field == field
    assert not HeimdallPolicy.objects.exists()
    assert not AuditEvent.objects.exists()
