"""A demoted model version is back in the sandbox until new trials earn it production again; the
domain's other versions keep theirs. Heimdall's check honours every kill scope."""

import datetime as dt

import pytest
from django.utils import timezone

from golive import services as golive
from governance_site.audit.models import AuditEvent
from governance_site.errors import InvalidInput
from heimdall import reasons, services

pytestmark = pytest.mark.django_db


def check(model_version, **extra):
    return services.check_prod_eligible(domain="WHOLESALE", confidence=0.9, model_version=model_version, **extra)


def test_demote_v2__v2_refused_v1_still_eligible(live, make_policy, add_trials):
    make_policy()
    add_trials(successes=4, model_version="v1")
    add_trials(successes=4, model_version="v2")
    services.demote_model_version(domain="wholesale", model_version="v2", reason="tripwire", actor="tripwire/beat")
    answer = check("v2")
    assert (answer.prod_eligible, answer.reason, answer.trials) == (False, reasons.DEMOTED_BY_TRIPWIRE, 0)
    assert answer.detail.startswith("v2 demoted at ") and answer.detail.endswith("by tripwire/beat: tripwire")
    assert check("v1").prod_eligible
    event = AuditEvent.objects.get(action="model_version.demote")
    assert (event.actor, event.lever, event.reason, event.before) == ("tripwire/beat", "heimdall", "tripwire", None)


def test_demoted__new_trials_after_demotion__eligible_again(live, make_policy, add_trials):
    make_policy()
    add_trials(successes=10, model_version="v2")
    services.demote_model_version(domain="WHOLESALE", model_version="v2", reason="tripwire", actor="tripwire/beat")
    later = timezone.now() + dt.timedelta(seconds=1)
    add_trials(successes=2, failures=1, model_version="v2", at=later)
    assert check("v2", now=later + dt.timedelta(seconds=1)).reason == reasons.DEMOTED_BY_TRIPWIRE  # 3 < 4 trials
    add_trials(successes=1, failures=1, model_version="v2", at=later)
    assert check("v2", now=later + dt.timedelta(seconds=1)).reason == reasons.DEMOTED_BY_TRIPWIRE  # 60% < 75%
    add_trials(successes=3, model_version="v2", at=later)
    answer = check("v2", now=later + dt.timedelta(seconds=1))
    assert (answer.prod_eligible, answer.trials, answer.success_rate) == (True, 8, 0.75)


def test_demote__bad_input__invalid_input_naming_field(operator):
    with pytest.raises(InvalidInput) as caught:
        services.demote_model_version(domain="WHOLESALE", model_version=" ", reason="r", actor=operator)
    assert caught.value.field == "model_version"
    with pytest.raises(InvalidInput) as caught:
        services.demote_model_version(domain="WHOLESALE", model_version="v2", reason="", actor=operator)
    assert caught.value.field == "reason"


@pytest.mark.parametrize(
    ("scope", "target", "label"),
    [("domain", "WHOLESALE", "domain WHOLESALE"), ("engine", "engine-bot", "engine engine-bot"),
     ("model_version", "v2", "model_version v2")],
)  # fmt: skip
def test_check_api__scope_killed__refused_naming_scope(api, engine, operator, live, make_policy, scope, target, label):
    make_policy()
    golive.set_kill_switch(engaged=True, scope=scope, target=target, reason="drill", actor=operator)
    body = {"domain": "WHOLESALE", "confidence": 0.9, "model_version": "v2"}
    answer = api(engine).post("/api/governance/heimdall/check", body, format="json").json()
    assert (answer["prod_eligible"], answer["reason"]) == (False, "kill_switch")
    assert answer["detail"] == f"kill_switch, scope: {label}, by op: drill"
