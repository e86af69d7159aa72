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
    """`make_policy(domain="WHOLESALE", **caps)`: a policy with generous caps unless told otherwise."""

    def make(domain="WHOLESALE", **caps):
        policy, _ = services.upsert_policy(domain=domain, changes={**CAPS, **caps}, actor=SYSTEM)
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
