"""Regression Tripwire fixtures: an enabled tripwire, a KPI feeder with its own clock, a risk policy."""

import datetime as dt

import pytest
from django.utils import timezone

from regression import services
from risk import services as risk

SETUP = "tests/setup"
WHOLESALE_CAPS = {
    "enabled": True,
    "max_daily_loss": "1000",
    "max_open_exposure": "5000",
    "max_daily_actions": 100,
    "reservation_ttl_seconds": 900,
}


def outcomes(successes: int, total: int) -> list[bool]:
    """`successes` True then False up to `total`."""
    return [True] * successes + [False] * (total - successes)


@pytest.fixture
def tripwire(db):
    """`tripwire(domain="WHOLESALE", metric="contract_rate", **changes)`: the policy, enabled."""

    def make(domain="WHOLESALE", metric="contract_rate", **changes):
        policy, _ = services.upsert_policy(
            domain=domain, metric=metric, changes={"enabled": True, **changes}, actor=SETUP
        )
        return policy

    return make


class Feeder:
    """Builds and stores KPI events one second apart, oldest first, starting a day ago."""

    def __init__(self):
        self.clock = timezone.now() - dt.timedelta(days=1)

    def events(self, samples, domain="WHOLESALE", metric="contract_rate") -> list[dict]:
        """Event bodies: a bool sample is `success`, a number is `value`."""
        bodies = []
        for sample in samples:
            self.clock += dt.timedelta(seconds=1)
            field = "success" if isinstance(sample, bool) else "value"
            bodies.append({"domain": domain, "metric": metric, field: sample, "occurred_at": self.clock})
        return bodies

    def __call__(self, samples, domain="WHOLESALE", metric="contract_rate") -> None:
        services.record_kpi_batch(events=self.events(samples, domain, metric), actor=SETUP)


@pytest.fixture
def feed(db):
    return Feeder()


@pytest.fixture
def wholesale_risk(db):
    """WHOLESALE's risk policy, enabled with generous caps."""
    policy, _ = risk.upsert_policy(domain="WHOLESALE", changes=WHOLESALE_CAPS, actor=SETUP)
    return policy
