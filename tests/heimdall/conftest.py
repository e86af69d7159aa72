"""Heimdall fixtures: a policy maker and a bulk trial maker at chosen times."""

import datetime as dt

import pytest
from django.utils import timezone

from heimdall import services
from heimdall.models import SandboxTrial

# Small gates so that tests need few trials.
GATES = {
    "enabled": True,
    "min_confidence_prod": 0.8,
    "min_sandbox_trials": 4,
    "min_success_rate": 0.75,
    "trial_window_days": 14,
}


@pytest.fixture
def make_policy(operator):
    """`make_policy(domain, **changes)`: the domain's policy with GATES, changed by `changes`."""

    def make(domain: str = "WHOLESALE", **changes):
        policy, _ = services.upsert_policy(
            domain=domain, changes={**GATES, **changes}, actor=operator, reason="test gates"
        )
        return policy

    return make


@pytest.fixture
def add_trials():
    """`add_trials(domain, successes=, failures=, at=, model_version=)`: trials recorded at `at`
    (default: a minute ago)."""

    def add(
        domain: str = "WHOLESALE",
        *,
        successes: int = 0,
        failures: int = 0,
        at: dt.datetime | None = None,
        model_version: str = "",
    ) -> None:
        at = at or timezone.now() - dt.timedelta(minutes=1)
        SandboxTrial.objects.bulk_create(
            SandboxTrial(
                domain=domain,
                model_version=model_version,
                confidence=0.9,
                success=success,
                actor="engine-bot",
                created_at=at,
            )
            for success in [True] * successes + [False] * failures
        )

    return add
