"""Risk Guard fixtures: a policy factory and a clock the tests can move."""

import datetime as dt

import pytest
from django.utils import timezone

from risk import services

SYSTEM = "tests/setup"
CAPS = {
    "max_daily_loss": "1000",
    "max_open_exposure": "5000",
    "max_daily_actions": 100,
    "max_action_amount": None,
    "reservation_ttl_seconds": 900,
}


@pytest.fixture
def make_policy(db):
    """`make_policy(domain="WHOLESALE", **caps)`: an enabled policy with generous caps unless told
    otherwise (a new policy with a cap of 0 is created disabled, then enabled)."""

    def make(domain="WHOLESALE", enabled=True, **caps):
        changes = {**CAPS, **caps}
        if enabled and all(changes[cap] for cap in services.CAPS):
            policy, _ = services.upsert_policy(domain=domain, changes={**changes, "enabled": True}, actor=SYSTEM)
            return policy
        services.upsert_policy(domain=domain, changes=changes, actor=SYSTEM)  # a cap of 0: enabled afterwards
        policy, _ = services.upsert_policy(domain=domain, changes={"enabled": enabled}, actor=SYSTEM)
        return policy

    return make


@pytest.fixture
def clock(monkeypatch):
    """`clock.set(aware_datetime)` freezes `timezone.now()`; `clock.advance(seconds=…)` moves it."""

    class Clock:
        now = timezone.now()

        def set(self, moment: dt.datetime):
            self.now = moment

        def advance(self, **delta):
            self.now += dt.timedelta(**delta)

    frozen = Clock()
    monkeypatch.setattr(timezone, "now", lambda: frozen.now)
    return frozen
