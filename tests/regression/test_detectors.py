"""The tripwire's detectors on seeded simulated streams (small and fast; the calibration benchmark
measures the same claims on many more): pure functions, no database."""

import json
import math

import numpy as np
import pytest

from regression import detectors
from regression.detectors import Carry, Settings

SEEDS = range(20261130, 20261130 + 40)


def flags(rng, rate: float, count: int) -> np.ndarray:
    return (rng.random(count) < rate).astype(float)


def spec_history(window_successes: int, *, shuffle_seed: int | None = None) -> np.ndarray:
    """The spec's example: 200 events at 95%, then 50 with `window_successes` successes (ordered
    successes first, or shuffled with a seed)."""
    baseline, window = np.zeros(200), np.zeros(50)
    baseline[:190], window[:window_successes] = 1.0, 1.0
    if shuffle_seed is not None:
        rng = np.random.default_rng(shuffle_seed)
        rng.shuffle(baseline)
        rng.shuffle(window)
    return np.concatenate([baseline, window])


def first_trip(values, pieces: int | None = None) -> int | None:
    carry, step = None, pieces or len(values)
    for start in range(0, len(values), step):
        carry, trip = detectors.scan(values[start : start + step], Settings(), carry)
        if trip is not None:
            return start + trip.index
    return None


@pytest.mark.parametrize("shuffle_seed", [None, *range(10)])
def test_scan__spec_example_95_to_74__trips_within_the_first_250_events(shuffle_seed):
    values = spec_history(37, shuffle_seed=shuffle_seed)  # 74%: a 22.1% drop
    _, trip = detectors.scan(values, Settings())
    assert trip is not None and trip.index == 249  # judged once a window follows the baseline
    assert trip.drop > 0.20 and trip.statistic > trip.threshold and trip.p_value < detectors.CONFIRM_ALPHA
    assert trip.reference_n == 200 and trip.reference_mean == 0.95


@pytest.mark.parametrize("shuffle_seed", [None, *range(10)])
def test_scan__spec_example_95_to_78__below_threshold_never_trips(shuffle_seed):
    _, trip = detectors.scan(spec_history(39, shuffle_seed=shuffle_seed), Settings())  # 78%: 17.9%
    assert trip is None


def test_scan__fewer_than_window_plus_baseline_events__never_trips():
    values = np.concatenate([np.ones(200), np.zeros(49)])
    carry, trip = detectors.scan(values, Settings())
    assert trip is None and carry.judged == 49 and carry.reference.n == 200


@pytest.mark.parametrize("pieces", [1, 7, 50])
def test_scan__fed_in_pieces_of_any_size__trips_at_the_same_event(pieces):
    for seed in SEEDS[:8]:
        rng = np.random.default_rng(seed)
        values = np.concatenate([flags(rng, 0.6, 1200), flags(rng, 0.6 * 0.6, 400)])
        whole = first_trip(values)
        assert whole is not None and whole >= 1200
        assert first_trip(values, pieces=pieces) == whole


def test_carry__json_round_trip__continues_exactly():
    rng = np.random.default_rng(7)
    values = flags(rng, 0.8, 3000)
    carry, _ = detectors.scan(values[:1700], Settings())
    stored = Carry.from_json(json.loads(json.dumps(carry.to_json())))
    assert detectors.scan(values[1700:], Settings(), stored)[0] == detectors.scan(values[1700:], Settings(), carry)[0]


def test_scan__stable_rates_with_200_event_references__false_trips_rare():
    """Reference error alone (±3.5 points at 50% from 200 events) must not trip: 40 seeded stable
    streams of 3,000 events at each of three rates, threshold 15%."""
    trips = 0
    for rate in (0.3, 0.5, 0.8):
        for seed in SEEDS:
            _, trip = detectors.scan(flags(np.random.default_rng(seed), rate, 3000), Settings(max_drop=0.15))
            trips += trip is not None
    assert trips <= 6  # 5% of 120 streams; the benchmark measures 0-4% per row on 400 streams


def test_scan__drop_of_twice_the_threshold__caught_within_a_few_hundred_events():
    delays = []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        values = np.concatenate([flags(rng, 0.5, 1500), flags(rng, 0.5 * 0.6, 1000)])
        _, trip = detectors.scan(values, Settings(max_drop=0.20))
        delays.append(None if trip is None else trip.index - 1500)
    caught = [delay for delay in delays if delay is not None and 0 <= delay < 500]
    assert len(caught) >= 38  # 95% of 40
    assert np.median(caught) < 250


def test_scan__every_trip_estimates_a_drop_above_the_threshold():
    """A 15% drop under a 20% threshold: the evidence may grow, but the size gate holds."""
    for seed in SEEDS[:20]:
        rng = np.random.default_rng(seed)
        values = np.concatenate([flags(rng, 0.9, 1000), flags(rng, 0.9 * 0.85, 3000)])
        _, trip = detectors.scan(values, Settings(max_drop=0.20))
        assert trip is None or trip.drop > 0.20


def test_scan__reference_grows_by_half_to_twelve_baselines_then_is_pinned():
    rng = np.random.default_rng(11)
    carry, sizes = None, []
    for _ in range(60):
        carry, trip = detectors.scan(flags(rng, 0.7, 100), Settings(), carry)
        assert trip is None
        sizes.append(carry.reference.n)
    assert sorted(set(sizes) - {0}) == [200, 300, 450, 675, 1013, 1520, 2280, 2400]
    pinned = carry.reference
    carry, _ = detectors.scan(flags(rng, 0.7, 2000), Settings(), carry)
    assert carry.reference == pinned == detectors.Stats(2400, pinned.total, pinned.squares)


def spread(successes: int, count: int) -> np.ndarray:
    """`successes` success flags spread as evenly as they go over `count` events."""
    return np.diff(np.arange(count + 1) * successes // count).astype(float)


def reference_then(reference_successes: int, later: np.ndarray) -> Carry:
    """A carry whose reference is 200 events with `reference_successes` successes, after `later`."""
    baseline = np.zeros(200)
    baseline[:reference_successes] = 1.0
    carry, _ = detectors.scan(baseline, Settings())
    carry, trip = detectors.scan(later, Settings(), carry)
    assert trip is None
    return carry


def test_scan__reference_that_sits_high__grows_on_schedule_with_the_cusum_above_zero():
    """200 events at 80% against a KPI at 74% (a 7.5% drop, under the 20% threshold): the CUSUM
    climbs, not near a trip, and stands above zero at event 300 (a failure); the reference becomes
    all 300 events then (it used to wait for the CUSUM to stand at zero, which kept exactly the
    references that sit high)."""
    later = spread(74, 100)[::-1]
    carry = reference_then(160, later[:99])
    assert carry.statistic > 0 and carry.reference.n == 200 and later[99] == 0.0
    carry, trip = detectors.scan(later[99:], Settings(), carry)
    assert trip is None and carry.reference == carry.epoch == detectors.Stats(300, 234.0, 234.0)


def test_scan__drop_in_progress_when_the_reference_grows__is_kept_out_of_it():
    """200 events at 95%, then 100 at 80% (a 15.8% drop: the CUSUM is well up, the size gate holds
    the trip): the reference that grows at 300 leaves out the events since the CUSUM last stood at
    zero, and the CUSUM goes on from where they left it."""
    later = spread(80, 100)
    carry = reference_then(190, later)
    interval = detectors.Cusum.design(detectors.Reference(carry.reference, True), Settings()).threshold
    assert carry.statistic > detectors.SUSPECT_SHARE * interval
    cleared = 190.0 + 80 - carry.segment.total
    assert carry.reference == detectors.Stats(300 - carry.segment.n, cleared, cleared)
    assert carry.reference.mean > 0.93 and carry.segment.n >= 90


def test_scan__pinned_reference__does_not_grow():
    rng = np.random.default_rng(12)
    carry = Carry(reference=detectors.Stats.of(flags(rng, 0.7, 300)), pinned=True)
    carry.epoch = carry.reference
    carry, _ = detectors.scan(flags(rng, 0.7, 3000), Settings(), carry)
    assert carry.reference.n == 300


def test_reference__mean_indistinguishable_from_zero__undecidable():
    rng = np.random.default_rng(3)
    noisy_zero = detectors.Reference(detectors.Stats.of(rng.normal(0.0, 0.3, 200)), rate=False)
    roi = detectors.Reference(detectors.Stats.of(rng.normal(0.04, 0.10, 200)), rate=False)
    never = detectors.Reference(detectors.Stats.of(np.zeros(200)), rate=True)
    assert not noisy_zero.decidable and roi.decidable and not never.decidable


def test_scan__all_minus_one_after_a_near_zero_noisy_baseline__trips():
    baseline = np.array([0.1, 0.2, -0.3] * 66 + [0.0, 0.0])
    _, trip = detectors.scan(np.concatenate([baseline, -np.ones(50)]), Settings(rate=False, max_drop=0.30))
    assert trip is not None and trip.drop is None  # undecidable: judged in deviations, not percent
    assert trip.absolute_drop > trip.required_drop == pytest.approx(0.5 * baseline.std(ddof=1))


def test_scan__tiny_move_after_a_near_zero_noisy_baseline__never_trips():
    values = np.concatenate([[1.001, -1.0], np.tile([1.0, -1.0], 99), np.full(500, -0.001)])
    assert detectors.scan(values, Settings(rate=False, max_drop=0.30))[1] is None


def test_scan__noisy_roi_turning_negative__trips():
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(0.04, 0.10, 1000), rng.normal(-0.05, 0.10, 300)])
    _, trip = detectors.scan(values, Settings(rate=False, max_drop=0.30))
    assert trip is not None and 1000 <= trip.index < 1300 and trip.drop > 1


@pytest.mark.parametrize(
    "increments, values",
    [
        (detectors.Increments(p=0.5, p_after=0.35), lambda rng, size: (rng.random(size) < 0.5).astype(float)),
        (detectors.Increments(p=0.9, p_after=0.72), lambda rng, size: (rng.random(size) < 0.9).astype(float)),
        (detectors.Increments(shift=0.3), lambda rng, size: rng.normal(0.0, 1.0, size)),
    ],
)
def test_decision_interval__simulated_run_length_is_the_budget_and_h_below_lordens(increments, values):
    """The interval is computed for the increments: 2,000 simulated in-control CUSUMs run on
    average the budgeted 400 events before they trip (±8%), where Lorden's ln(400) is far longer."""
    budget, streams = 400, 2000
    interval = detectors.decision_interval(increments, budget)
    assert interval < math.log(budget)
    if increments.shift is None:
        p, after = increments.p, increments.p_after
        up, down = math.log((1 - after) / (1 - p)), math.log(after / p)
        step = lambda x: np.where(x == 1.0, down, up)  # noqa: E731
    else:
        shift = increments.shift
        step = lambda x: -shift * x - shift**2 / 2  # noqa: E731  (x standardised; a drop is negative)
    rng = np.random.default_rng(5)
    statistic, lengths = np.zeros(streams), np.zeros(streams)
    running = np.ones(streams, dtype=bool)
    for event in range(1, 40 * budget):
        statistic = np.maximum(0.0, statistic + step(values(rng, streams)))
        tripped = running & (statistic > interval)
        lengths[tripped], running = event, running & ~tripped
        if not running.any():
            break
    assert not running.any()
    assert lengths.mean() == pytest.approx(budget, rel=0.08)


def test_window_drops__the_spec_rule_at_every_event():
    values = spec_history(37)
    rule = detectors.window_drops(values, 50, 200)
    assert np.isnan(rule.drop[:249]).all()
    assert (rule.baseline_rate[-1], rule.current_rate[-1]) == (0.95, 0.74)
    assert rule.drop[-1] == pytest.approx(0.21 / 0.95)


@pytest.mark.parametrize(
    "baseline", [np.zeros(200), np.tile([1.0, -1.0], 100), np.array([1.001, -1.0] + [1.0, -1.0] * 99)]
)
def test_window_drops__baseline_indistinguishable_from_zero__drop_undefined(baseline):
    rule = detectors.window_drops(np.concatenate([baseline, np.full(50, -0.5)]), 50, 200)
    assert np.isnan(rule.drop[-1])


def two_episodes(seed: int) -> tuple[np.ndarray, list[int]]:
    """8,000 events at 90%, with drops to 60% at 2,000-2,600 and 5,000-5,400."""
    rng = np.random.default_rng(seed)
    values = flags(rng, 0.9, 8000)
    for start, end in ((2000, 2600), (5000, 5400)):
        values[start:end] = flags(rng, 0.6, end - start)
    return values, [2000, 5000]


@pytest.mark.parametrize("seed", SEEDS[:10])
def test_backtest__two_drift_episodes__both_found_with_their_start_and_reset(seed):
    values, starts = two_episodes(seed)
    episodes = detectors.backtest(values, Settings())
    assert [episode.change_at for episode in episodes] == pytest.approx(starts, abs=60)
    for episode, start, end in zip(episodes, starts, (2600, 5400), strict=True):
        assert start <= episode.tripped_at < start + 150
        assert end <= episode.reset_at < end + 400  # a baseline's worth of healthy events after
        assert episode.drop > 0.2 and episode.statistic > episode.threshold


def test_backtest__window_rule__trips_on_noise_the_sequential_detector_ignores():
    rng = np.random.default_rng(21)
    values = flags(rng, 0.5, 20_000)
    assert detectors.backtest(values, Settings(max_drop=0.15)) == []
    assert len(detectors.backtest(values, Settings(detector=detectors.WINDOW_DROP, max_drop=0.15))) > 10


@pytest.mark.parametrize(
    "rate, successes, max_drop, errors",
    [(True, 60, 0.15, 1.0), (True, 190, 0.20, 0.22), (False, None, 0.20, detectors.MEAN_MARGIN)],
)
def test_reference_margin__full_error_where_it_rivals_the_drop_little_where_it_does_not(
    rate, successes, max_drop, errors
):
    """200 events at 30% (± 3.2 points) against a 15% threshold: the CUSUM's null sits a full
    standard error low; 200 at 95% (± 1.5) against 20%: about a fifth of one (a full one would
    keep the spec's example from tripping); a mean's reference: a fixed share of one."""
    values = (
        np.r_[np.ones(successes), np.zeros(200 - successes)] if rate else np.random.default_rng(3).normal(1, 2, 200)
    )
    reference = detectors.Reference(detectors.Stats.of(values), rate)
    design = detectors.DESIGN_FACTOR * max_drop
    assert reference.margin(design) / reference.standard_error == pytest.approx(errors, abs=0.01)


def test_cusum_expected_delay__close_to_the_simulated_mean_delay():
    """The operator's "expected delay to catch a drop of 2 × the threshold" (Wald's h / evidence
    per event) against 40 simulated drops of 40% at a 50% rate, threshold 20%: within 35%."""
    settings, delays = Settings(max_drop=0.20), []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        values = np.concatenate([flags(rng, 0.5, 1600), flags(rng, 0.5 * 0.6, 1000)])
        carry, _ = detectors.scan(values[:1600], settings)
        _, trip = detectors.scan(values[1600:], settings, carry)
        delays.append(trip.index)
    reference = detectors.Reference(carry.reference, True)
    expected = detectors.Cusum.design(reference, settings).expected_delay(reference, 0.40)
    assert expected == pytest.approx(np.mean(delays), rel=0.35)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("p", [0.001, 0.002])
def test_decision_interval__rate_near_zero__lordens_bound_not_a_singular_chain(p):
    """At such a rate one of the two moves is under half a cell of the chain: rounded to no move,
    the chain never leaves zero (a singular system, and an interval near 0 that trips on anything).
    The interval is then Lorden's ln(budget), whose run length is at least the budget."""
    increments = detectors.Increments(p=p, p_after=p * 0.7)
    assert detectors.decision_interval(increments, 250_000) == pytest.approx(math.log(250_000))
