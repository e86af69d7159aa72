"""The KPI endpoints' lean input path gives exactly what KpiInput gives, or declines.

Events are generated from pools of good and bad values for every field (seeded; the seeds are
printed). For each one, the plain path either declines (the serializer then answers, with its
usual errors) or returns KpiInput's validated data, and KpiInput accepts it."""

import datetime as dt
import random

import pytest
from django.utils import timezone

from regression.apis import KpiInput, PlainKpiInput

SEEDS = range(20)
EVENTS_PER_SEED = 500
MISSING = object()


def pools() -> dict[str, list]:
    now = timezone.now()
    return {
        "domain": ["WHOLESALE", "wholesale", "Capital_2", "", " WHOLESALE", "WHOLE-SALE", "ß", 7, None, True, "A" * 65],
        "metric": ["contract_rate", "Contract_Rate", "m" * 64, "", "rate!", 3.5, None, ["x"], "m" * 65],
        "success": [True, False, MISSING, None, "true", 1, 0, "no", [], MISSING, MISSING],
        "value": [1, -2.5, MISSING, 0, 1e15, -1e15, 1e16, 10**20, float("nan"), float("inf"), True, "3", None, MISSING],
        "actor": ["engine/offers", "  padded  ", MISSING, "", "   ", "x" * 150, "x" * 151, "bad\x00", "naïve", 5, None],
        "event_id": [MISSING, " deal-2 ", "e" * 128, "", "deal-1", "e" * 129, "nul\x00", 12, None, MISSING],
        "occurred_at": [
            now.isoformat(),
            (now - dt.timedelta(days=1)).isoformat(),
            (now - dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat(),
            MISSING,
            (now - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            (now + dt.timedelta(minutes=4)).isoformat(),
            (now + dt.timedelta(minutes=6)).isoformat(),
            (now - dt.timedelta(days=3651)).isoformat(),
            (now - dt.timedelta(hours=1)).replace(tzinfo=None).isoformat(),
            "2026-13-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "yesterday",
            1700000000,
            None,
        ],
        "extra": ["ignored", MISSING, MISSING],
    }


def generated(seed: int):
    """Events whose fields each take a good value (the first three of its pool) four times in five."""
    rng, values = random.Random(seed), pools()
    for _ in range(EVENTS_PER_SEED):
        event = {name: rng.choice(pool[:3] if rng.random() < 0.8 else pool) for name, pool in values.items()}
        yield {name: value for name, value in event.items() if value is not MISSING}


@pytest.mark.parametrize("seed", SEEDS)
def test_plain_path__equals_the_serializer_or_declines(seed):
    print(f"seed {seed}")
    taken = 0
    for event in generated(seed):
        plain = PlainKpiInput.event(event)
        if plain is None:
            continue
        serializer = KpiInput(data=event)
        assert serializer.is_valid(), (event, serializer.errors)
        assert plain == dict(serializer.validated_data), event
        taken += 1
    assert taken > 0, "the plain path declined every generated event"


def test_batch__declines_all_when_one_event_is_off():
    good = {"domain": "W", "metric": "m", "success": True}
    assert PlainKpiInput.events([good, good]) == [{"domain": "W", "metric": "m", "success": True}] * 2
    assert PlainKpiInput.events([good, {**good, "success": "yes"}]) is None
    assert PlainKpiInput.events([]) is None
    assert PlainKpiInput.events({"0": good}) is None
