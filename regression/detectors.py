"""Tripwire detectors: pure functions over ordered arrays of KPI values (no database, no Django).

Two detectors judge whether a KPI has dropped below its reference:

- `sequential` (the default): a one-sided CUSUM (Page 1954) of log-likelihood ratios, "the KPI is
  at its reference" against "it fell by 1.5 × max_drop_fraction" (the exact Bernoulli ratio for
  success rates, the Gaussian one for means), over every event of the epoch exactly once, in order.
  Its null sits a margin below the reference's estimate (`Reference.margin`: for a success rate
  the estimate's error, in full where it is large against the drop sought; for a mean, 0.6 of it),
  so that a reference that happens to be high does not make a stable KPI drift up. Its decision
  interval h is computed from the policy's false-alarm budget, the in-control average run length
  in events (`decision_interval`: a Markov chain for success rates, Siegmund's approximation for
  means), not bounded by Lorden's h = ln(budget), which overshoots the budget many times over when
  one event carries little information and so costs delay. Because it sees each event once, its
  verdict does not depend on how often it is evaluated. It trips at the first event where three
  things hold together: the CUSUM is above h, the estimated drop exceeds max_drop_fraction, and a
  two-sample test of the CUSUM's evidence against the reference is significant (CONFIRM_ALPHA).
  The reference is learned from the epoch's first `baseline` events, then becomes the whole epoch
  each time the epoch has grown by half (`_grow`), up to 12 × `baseline` events, and is pinned from
  then on: slow drift cannot drag it along, and 200 events alone are too few to tell a 15% drop at
  a 30% success rate, or a 40% drop of a mean whose deviation is 2.5 × it, from the reference's
  own error.
- `window_drop` (the spec's rule, noise-prone): the latest `window` events against the `baseline`
  events before them; trips when the relative drop exceeds max_drop_fraction. It has no false-alarm
  control: evaluated often, a stable KPI trips it sooner or later (see the calibration benchmark).
"""

import functools
import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import sparse, special, stats
from scipy.sparse import linalg as sparse_linalg
from statsmodels.stats.proportion import test_proportions_2indep

SEQUENTIAL = "sequential"
WINDOW_DROP = "window_drop"

# On average this many events between false trips on a KPI at its reference: the CUSUM's in-control
# average run length, computed for its increments (`decision_interval`). 250,000 keeps the false
# trips of 5,000-event streams at 1-4.5% once the reference's own error is counted (the calibration
# benchmark; at 150,000 they reached 5.5%), and h = 10.17 nats in the spec's example, where 50
# events at 74% after 200 at 95% carry at least 10.3 in any order: it trips at the first evaluation.
DEFAULT_FALSE_ALARM_EVENTS = 250_000
DESIGN_FACTOR = 1.5  # the CUSUM looks for a drop of 1.5 × max_drop_fraction
MARGIN_RATIO = 0.25  # ... below the reference lowered by its error, fully once that is a quarter of the drop
CONFIRM_ALPHA = 0.001  # one-sided level of the two-sample confirmation at trip time
MEAN_MARGIN = 0.6  # a mean's reference: 0.6 of its standard error, whatever the drop sought
REFERENCE_GROWTH = 12  # the reference grows up to 12 × baseline events, then it is pinned
GROWTH_STEP = 1.5  # ... each time the epoch has grown by half since the last time
SUSPECT_SHARE = 0.75  # a CUSUM above 0.75 h when the reference grows: its uncleared events stay out
DECIDABLE_SES = 3.0  # a reference mean within 3 standard errors of zero cannot carry a relative drop
ABSOLUTE_DROP_SDS = 0.5  # an undecidable reference still catches drops of half its deviation
SD_FLOOR = 1e-6  # relative: a constant reference still has a scale to measure deviations in
ZERO_TOLERANCE = 1e-9  # rounding bound of the window rule's zero-baseline test
THRESHOLD_TOLERANCE = 1e-9  # a drop equal to the threshold up to float rounding does not count
BERNOULLI_STATES = 4000  # cells of the Markov chain that computes a success rate's run length
SIEGMUND_OVERSHOOT = 0.583  # -zeta(1/2)/sqrt(2 pi): a Gaussian CUSUM's expected overshoot, in shifts
MAX_EXPONENT = 700.0  # e^700 is near the largest float
ARL_BISECTIONS = 12  # bisections of the decision interval: h to within ln(budget) / 4096


@dataclass(frozen=True)
class Settings:
    detector: str = SEQUENTIAL
    rate: bool = True  # success rate (values 1.0 / 0.0) or the mean of values
    window: int = 50
    baseline: int = 200
    max_drop: float = 0.20
    false_alarm_events: int = DEFAULT_FALSE_ALARM_EVENTS


@dataclass
class Stats:
    """Count, sum and sum of squares of some values: enough for a mean, a deviation and a test."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    @classmethod
    def of(cls, values) -> "Stats":
        values = np.asarray(values, dtype=float)
        return cls(len(values), float(values.sum()), float(np.square(values).sum()))

    def __add__(self, other: "Stats") -> "Stats":
        return Stats(self.n + other.n, self.total + other.total, self.squares + other.squares)

    def __sub__(self, other: "Stats") -> "Stats":
        return Stats(self.n - other.n, self.total - other.total, self.squares - other.squares)

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def sd(self) -> float:
        """Sample standard deviation (ddof 1); 0 for fewer than two values."""
        if self.n < 2:
            return 0.0
        return math.sqrt(max(self.squares - self.total**2 / self.n, 0.0) / (self.n - 1))


def relative_drop(reference: float | None, current: float | None) -> float | None:
    if reference is None or current is None or reference == 0:
        return None
    return (reference - current) / abs(reference)


def breached(drop, threshold: float):
    """Strictly above the threshold; a drop equal to it up to float rounding does not count.
    Takes a number (None: never) or an array of drops."""
    if drop is None:
        return False
    above = np.greater(drop, threshold) & ~np.isclose(drop, threshold, rtol=THRESHOLD_TOLERANCE, atol=1e-12)
    return bool(above) if np.ndim(above) == 0 else above


# --- The reference --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """What the sequential detector compares with: a pinned sample of healthy events."""

    stats: Stats
    rate: bool

    @property
    def mean(self) -> float:
        return self.stats.mean

    @property
    def sd(self) -> float:
        """The deviation the detector measures in (a rate's from its Bernoulli variance), floored."""
        mean = self.stats.mean
        sd = math.sqrt(mean * (1 - mean)) if self.rate else self.stats.sd
        return max(sd, SD_FLOOR * max(1.0, abs(mean)))

    @property
    def standard_error(self) -> float:
        mean = self.stats.mean
        sd = math.sqrt(mean * (1 - mean)) if self.rate else self.stats.sd
        return sd / math.sqrt(self.stats.n)

    def margin(self, design: float) -> float:
        """How far below the reference's estimate the CUSUM designs its null. For a success rate:
        the estimate's standard error, in proportion to how large that error is against the drop
        sought (a full error once it is MARGIN_RATIO of the drop). A reference that happens to sit high makes a
        stable KPI look like a drop; a margin keeps its drift negative. 200 events at 30% (± 3.2
        points) against a 15% threshold need the full margin; 200 at 95% (± 1.5) against 20%
        almost none, and there a full one would blunt the evidence of each failure by a third."""
        error = self.standard_error
        if not self.rate:  # a mean's reference estimates a deviation too, and the Gaussian ratio only
            return MEAN_MARGIN * error  # approximates a real KPI's: a fixed share of the error (benchmark)
        sought = design * abs(self.mean) if self.decidable else ABSOLUTE_DROP_SDS * self.sd
        return error * min(1.0, error / (MARGIN_RATIO * sought)) if sought > 0 else error

    @property
    def decidable(self) -> bool:
        """Whether the reference mean can be told from zero (a relative drop needs a scale)."""
        return abs(self.mean) > DECIDABLE_SES * self.standard_error

    def required_drop(self, max_drop: float) -> float:
        """The absolute drop below the reference that counts as a regression."""
        if self.decidable:
            return max_drop * abs(self.mean)
        return ABSOLUTE_DROP_SDS * self.sd


@dataclass(frozen=True)
class Cusum:
    """Increments l(x) = slope·x + intercept of the log-likelihood ratio, and the interval h."""

    slope: float
    intercept: float
    threshold: float

    @classmethod
    def design(cls, reference: Reference, settings: Settings) -> "Cusum":
        design = min(DESIGN_FACTOR * settings.max_drop, 0.95)
        if reference.rate:
            stats_ = reference.stats
            p0 = (stats_.total + 0.5) / (stats_.n + 1)  # Jeffreys: never exactly 0 or 1
            p0 = max(p0 - reference.margin(design), p0 / 2)
            if not reference.decidable:
                design = max(design, ABSOLUTE_DROP_SDS * reference.sd / p0)
                design = min(design, 0.95)
            p1 = p0 * (1 - design)
            success, failure = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
            slope, intercept = success - failure, failure
            increments = Increments(p=p0, p_after=p1)
        else:
            mean, sd = reference.mean - reference.margin(design), reference.sd
            shift = design * abs(mean) / sd if reference.decidable else ABSOLUTE_DROP_SDS
            shift = max(shift, 1e-3)
            # l(x) = -shift·z - shift²/2 with z = (x - mean) / sd: Gaussian shift of `shift` sds down
            slope, intercept = -shift / sd, shift * mean / sd - shift**2 / 2
            increments = Increments(shift=shift)
        return cls(slope, intercept, decision_interval(increments, settings.false_alarm_events))

    def expected_delay(self, reference: Reference, drop: float) -> float | None:
        """About how many events it takes to catch the KPI falling by `drop` (relative) from the
        reference: h over the evidence one such event adds (Wald's approximation, from a CUSUM at
        zero, overshoot left out). None for a reference that cannot be told from zero."""
        if not reference.decidable:
            return None
        evidence = self.slope * reference.mean * (1 - drop) + self.intercept
        return self.threshold / evidence if evidence > 0 else None


def decision_interval(cusum_increments: "Increments", run_length: float) -> float:
    """The decision interval h at which the CUSUM, on a KPI exactly at its reference, trips on
    average once every `run_length` events (its in-control average run length), computed from the
    distribution of its increments rather than bounded: Lorden's h = ln(run_length) guarantees at
    least that run length for any increments but overshoots it many times over when one event
    carries little information, and every nat of h costs 1 / KL events of delay."""
    return _interval(cusum_increments.rounded(), run_length)


@dataclass(frozen=True)
class Increments:
    """The in-control law of the CUSUM's increments: the log-likelihood ratio of a success flag at
    rate p (reference) against p_after (the design's drop), or of a Gaussian value shifted down by
    `shift` deviations (increments of mean -shift²/2 and deviation shift)."""

    p: float | None = None
    p_after: float | None = None
    shift: float | None = None

    def rounded(self) -> "Increments":
        """On grids of 1% steps (of the odds of a rate, of a shift): the interval barely moves
        within one, and it is cached."""
        if self.shift is not None:
            return Increments(shift=math.exp(round(math.log(self.shift), 2)))
        return Increments(p=_on_odds_grid(self.p), p_after=_on_odds_grid(self.p_after))


def _on_odds_grid(p: float) -> float:
    return float(special.expit(round(float(special.logit(p)), 2)))


@functools.lru_cache(maxsize=4096)
def _interval(increments: Increments, run_length: float) -> float:
    """Bisection on h (the run length grows with h, in steps where the increments form a lattice)."""
    low, high = 0.0, math.log(run_length)  # Lorden: the run length at ln(run_length) is at least it
    for _ in range(ARL_BISECTIONS):
        middle = (low + high) / 2
        length = _run_length(increments, middle)
        if length is None:  # the chain cannot follow moves this small: keep Lorden's bound
            return math.log(run_length)
        low, high = (middle, high) if length < run_length else (low, middle)
    return high


def _run_length(increments: Increments, interval: float) -> float | None:
    """The in-control average run length of the CUSUM with this interval. Gaussian increments:
    Siegmund's approximation 2(e^b - b - 1) / shift² with b = h + 2·0.583·shift (the overshoot
    correction). Bernoulli increments (two moves, a lattice that no smooth approximation follows):
    the Markov chain of the statistic on BERNOULLI_STATES cells over [0, h] (Brook & Evans 1972);
    None when a move is under half a cell (a rate near 0 or 1): rounded to no move at all, the
    chain would never leave zero."""
    if increments.shift is not None:
        shift = increments.shift
        corrected = interval + 2 * SIEGMUND_OVERSHOOT * shift
        if corrected > MAX_EXPONENT:  # a shift of hundreds of deviations: one event trips it
            return math.inf
        return 2 * (math.expm1(corrected) - corrected) / shift**2
    width = interval / BERNOULLI_STATES
    level = np.arange(BERNOULLI_STATES) * width
    p, after = increments.p, increments.p_after
    moves = ((math.log(after / p), p), (math.log((1 - after) / (1 - p)), 1 - p))
    if min(abs(move) for move, _ in moves) < width / 2:
        return None
    rows, cols, probabilities = [], [], []
    for move, probability in moves:
        after_move = level + move
        stays = np.flatnonzero(after_move <= interval)
        rows.append(stays)
        cols.append(np.clip(np.rint(np.maximum(after_move[stays], 0) / width), 0, BERNOULLI_STATES - 1).astype(int))
        probabilities.append(np.full(len(stays), probability))
    chain = sparse.csc_matrix(
        (np.concatenate(probabilities), (np.concatenate(rows), np.concatenate(cols))),
        shape=(BERNOULLI_STATES, BERNOULLI_STATES),
    )
    identity = sparse.identity(BERNOULLI_STATES, format="csc")
    return float(sparse_linalg.spsolve(identity - chain, np.ones(BERNOULLI_STATES))[0])


# --- The sequential detector -----------------------------------------------------------------------


@dataclass
class Carry:
    """Everything the sequential detector keeps between two scans of one epoch (JSON-able)."""

    epoch: Stats = field(default_factory=Stats)  # every event of the epoch so far
    reference: Stats = field(default_factory=Stats)  # empty while learning
    pinned: bool = False  # a rebaselined reference never grows
    statistic: float = 0.0  # the CUSUM
    segment: Stats = field(default_factory=Stats)  # events since the CUSUM last stood at zero
    judged: int = 0  # events judged against a reference in this epoch
    tail: list = field(default_factory=list)  # the latest values, up to window - 1 of them

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> "Carry":
        if not data:
            return cls()
        data = dict(data)
        for name in ("epoch", "reference", "segment"):
            data[name] = Stats(**data[name])
        return cls(**data)

    @property
    def learning(self) -> bool:
        return self.reference.n == 0

    def growth_target(self, settings: Settings) -> int | None:
        """The epoch size at which the reference grows next, or None once it is pinned. The sizes
        follow from the epoch's: `baseline`, then GROWTH_STEP times the previous one (rounded up),
        up to REFERENCE_GROWTH × `baseline` (200, 300, 450, … 2,280, 2,400 with the defaults)."""
        if self.pinned:
            return None
        cap, target = REFERENCE_GROWTH * settings.baseline, settings.baseline
        while target <= self.epoch.n:
            if target >= cap:
                return None
            target = min(math.ceil(GROWTH_STEP * target), cap)
        return target


@dataclass(frozen=True)
class Trip:
    """One trip of the sequential detector, explained."""

    index: int  # into the scanned values
    start: int  # first event of the evidence (the estimated change point); may be negative
    statistic: float  # the CUSUM, above its decision interval `threshold`
    threshold: float
    reference_n: int
    reference_mean: float
    evidence_n: int  # events since the CUSUM last stood at zero: what the confirmation tests
    evidence_mean: float
    current_n: int  # the same events, or the latest window when they are fewer: what the size gate measures
    current_mean: float
    drop: float | None  # relative, None for an undecidable reference
    absolute_drop: float
    required_drop: float
    p_value: float

    def to_json(self) -> dict:
        return asdict(self)


def _prefix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    zero = np.zeros(1)
    return np.concatenate([zero, np.cumsum(values)]), np.concatenate([zero, np.cumsum(np.square(values))])


def confirm_p_values(current: Stats, reference: Reference, counts=None) -> np.ndarray:
    """One-sided p-values of "current is lower than the reference", vectorised over `counts`
    (arrays n, total, squares of the current samples), counting the reference's sample size."""
    n, total, squares = counts if counts is not None else (current.n, current.total, current.squares)
    n, total, squares = (np.atleast_1d(np.asarray(array, dtype=float)) for array in (n, total, squares))
    ref = reference.stats
    with np.errstate(divide="ignore", invalid="ignore"):
        if reference.rate:
            result = test_proportions_2indep(
                np.rint(total), n, round(ref.total), ref.n, method="score", compare="diff", alternative="smaller"
            )
            p_values = np.asarray(result.pvalue, dtype=float)
        else:
            mean = total / n
            sd = np.sqrt(np.maximum(squares - total**2 / n, 0.0) / np.maximum(n - 1, 1))
            sd = np.where(n < 2, reference.sd, np.maximum(sd, SD_FLOOR * np.maximum(1.0, np.abs(mean))))
            result = stats.ttest_ind_from_stats(
                mean, sd, n, reference.mean, reference.sd, ref.n, equal_var=False, alternative="less"
            )
            p_values = np.asarray(result.pvalue, dtype=float)
    return np.where(np.isnan(p_values), 1.0, np.broadcast_to(p_values, n.shape))


def scan(values, settings: Settings, carry: Carry | None = None) -> tuple[Carry, Trip | None]:
    """Feed `values` (oldest first) to the sequential detector; returns the new carry and the first
    trip among them (the carry then stands at that event: the epoch is latched). Feeding a stream
    in one call or in pieces of any size gives the same trip."""
    values = np.asarray(values, dtype=float)
    carry = replace(carry) if carry is not None else Carry()
    position = 0
    while position < len(values):
        if carry.learning:
            take = min(settings.baseline - carry.epoch.n, len(values) - position)
            _absorb(carry, values[position : position + take], settings)
            position += take
            if carry.epoch.n >= settings.baseline:
                carry.reference = replace(carry.epoch)
            continue
        used, trip = _judge(values[position:], settings, carry)
        if trip is not None:
            return carry, replace(trip, index=trip.index + position, start=trip.start + position)
        position += used
    return carry, None


def _absorb(carry: Carry, values: np.ndarray, settings: Settings) -> None:
    carry.epoch = carry.epoch + Stats.of(values)
    keep = max(settings.window - 1, 0)
    carry.tail = (carry.tail + values.tolist())[-keep:] if keep else []


def _judge(values: np.ndarray, settings: Settings, carry: Carry) -> tuple[int, Trip | None]:
    """Judge `values` against the current reference until the stream ends, it trips, or the
    reference grows (on its schedule, `Carry.growth_target`). Returns (values used, trip)."""
    reference = Reference(carry.reference, settings.rate)
    cusum = Cusum.design(reference, settings)
    climbed = np.cumsum(cusum.intercept + cusum.slope * values)
    # Page's recursion S = max(0, S + l) in closed form: the climb above its lowest point so far.
    statistic = climbed - np.minimum(np.minimum.accumulate(climbed), -carry.statistic)
    at_zero = statistic <= 0
    index = np.arange(len(values))
    end, grows = len(values), False
    target = carry.growth_target(settings)
    if target is not None and carry.epoch.n + len(values) >= target:
        end, grows = target - carry.epoch.n, True
    # The change point: the last event at which the CUSUM stood at zero (-1: before these values).
    last_zero = np.maximum.accumulate(np.where(at_zero, index, -1))
    values_sum, squares_sum = _prefix(values)
    judged = carry.judged + index[:end] + 1
    candidates = np.flatnonzero((statistic[:end] > cusum.threshold) & (judged >= settings.window))
    trip = _first_confirmed(
        candidates, values, values_sum, squares_sum, last_zero, statistic, cusum, reference, settings, carry
    )
    used = end if trip is None else trip.index + 1
    _advance(carry, values[:used], statistic[used - 1], last_zero[used - 1], values_sum, squares_sum, settings)
    if trip is None and grows:
        _grow(carry, settings, cusum.threshold)
    return used, trip


def _grow(carry: Carry, settings: Settings, interval: float) -> None:
    """The reference becomes every event of the epoch so far, on schedule whatever the CUSUM says,
    so that a reference that happens to sit high is corrected rather than kept (waiting for the
    CUSUM to stand at zero kept exactly those: 17 of 56 false trips on four calibration rows came
    while the reference was still its first 200 events, growth to 400 long due). Only when the
    CUSUM is well on its way to a trip (above SUSPECT_SHARE of h) are the events since it last
    stood at zero left out: they may be the start of a drop, and a reference that absorbs a drop
    hides it. Leaving them out at any smaller statistic would bias the reference up (the left-out
    runs are the low ones) and raise the false trips. The CUSUM then restarts on those uncleared
    events, judged against the new reference. `interval`: the h the CUSUM stood against."""
    suspect = carry.statistic > SUSPECT_SHARE * interval
    carry.reference = carry.epoch - carry.segment if suspect else replace(carry.epoch)
    cusum = Cusum.design(Reference(carry.reference, settings.rate), settings)
    carry.statistic = max(0.0, cusum.slope * carry.segment.total + cusum.intercept * carry.segment.n)
    if carry.statistic == 0.0:
        carry.segment = Stats()


def _advance(carry, values, statistic, last_zero, values_sum, squares_sum, settings) -> None:
    used = len(values)
    if last_zero >= 0:
        carry.segment = Stats(
            int(used - 1 - last_zero),
            float(values_sum[used] - values_sum[last_zero + 1]),
            float(squares_sum[used] - squares_sum[last_zero + 1]),
        )
    else:
        carry.segment = carry.segment + Stats(used, float(values_sum[used]), float(squares_sum[used]))
    carry.statistic = float(statistic)
    carry.judged += used
    _absorb(carry, values, settings)


def _first_confirmed(candidates, values, values_sum, squares_sum, last_zero, statistic, cusum, reference,
                     settings, carry) -> Trip | None:  # fmt: skip
    if not len(candidates):
        return None
    # Events since the change point, at least a window of them (the window may reach into the tail).
    since = np.where(last_zero[candidates] >= 0, candidates - last_zero[candidates], carry.segment.n + candidates + 1)
    tail = np.asarray(carry.tail, dtype=float)
    joined_sum, _ = _prefix(np.concatenate([tail, values]))
    shift = len(tail)
    window = settings.window  # candidates have judged at least a window of events
    long = since >= window
    seg_start = candidates + 1 - since  # in values' indexes; negative reaches into the carried segment
    win_start = candidates + 1 - window
    n = np.where(long, since, window)
    in_values = np.maximum(seg_start, 0)
    seg_total = values_sum[candidates + 1] - values_sum[in_values]
    seg_squares = squares_sum[candidates + 1] - squares_sum[in_values]
    carried = seg_start < 0
    seg_total = seg_total + np.where(carried, carry.segment.total, 0.0)
    seg_squares = seg_squares + np.where(carried, carry.segment.squares, 0.0)
    win_total = joined_sum[candidates + 1 + shift] - joined_sum[win_start + shift]
    total = np.where(long, seg_total, win_total)
    current = total / n
    required = reference.required_drop(settings.max_drop)
    absolute = reference.mean - current
    large = absolute > required
    if reference.decidable:
        large &= breached(absolute / abs(reference.mean), settings.max_drop)
    keep = np.flatnonzero(large)
    if not len(keep):
        return None
    # The confirmation tests the CUSUM's own evidence (the events since it last stood at zero).
    p_values = confirm_p_values(Stats(), reference, (since[keep], seg_total[keep], seg_squares[keep]))
    confirmed = np.flatnonzero(p_values < CONFIRM_ALPHA)
    if not len(confirmed):
        return None
    first = keep[confirmed[0]]
    at = int(candidates[first])
    return Trip(
        index=at,
        start=int(at + 1 - since[first]),
        statistic=float(statistic[at]),
        threshold=cusum.threshold,
        reference_n=reference.stats.n,
        reference_mean=reference.mean,
        evidence_n=int(since[first]),
        evidence_mean=float(seg_total[first] / since[first]),
        current_n=int(n[first]),
        current_mean=float(current[first]),
        drop=relative_drop(reference.mean, float(current[first])) if reference.decidable else None,
        absolute_drop=float(absolute[first]),
        required_drop=required,
        p_value=float(p_values[confirmed[0]]),
    )


# --- The window rule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Windows:
    """The window rule at every event that closes a full window + baseline: arrays indexed by the
    window's last event (NaN where the stream is too short, or the drop is undefined)."""

    baseline_rate: np.ndarray
    current_rate: np.ndarray
    drop: np.ndarray


def window_drops(values, window: int, baseline: int) -> Windows:
    """The latest `window` events against the `baseline` events just before them, at every event.

    The zero-baseline rule: a baseline rate that cannot be told from zero has no scale to measure
    a relative drop against (a success rate of 0% cannot fall; dividing by a mean of about zero
    turns noise into an unbounded drop). "Cannot be told from zero" is: within one standard error
    of the baseline's mean (its population standard deviation / √n) of zero, or within
    ZERO_TOLERANCE × max(1, largest |value|) for rounding. The drop is then undefined (NaN).
    """
    from scipy.ndimage import maximum_filter1d

    values = np.asarray(values, dtype=float)
    count = len(values)
    baseline_rate = np.full(count, np.nan)
    current_rate = np.full(count, np.nan)
    drop = np.full(count, np.nan)
    first = window + baseline - 1
    if count <= first:
        return Windows(baseline_rate, current_rate, drop)
    sums, squares = _prefix(values)
    ends = np.arange(first, count)
    split = ends + 1 - window
    current_rate[first:] = (sums[ends + 1] - sums[split]) / window
    base_sum, base_squares = sums[split] - sums[split - baseline], squares[split] - squares[split - baseline]
    base_mean = base_sum / baseline
    baseline_rate[first:] = base_mean
    spread = np.sqrt(np.maximum(base_squares / baseline - base_mean**2, 0.0)) / math.sqrt(baseline)
    largest = maximum_filter1d(np.abs(values), size=baseline, origin=(baseline - 1) // 2)  # ends at each index
    scale = np.maximum(1.0, largest[split - 1])
    defined = np.abs(base_mean) > np.maximum(ZERO_TOLERANCE * scale, spread)
    with np.errstate(divide="ignore", invalid="ignore"):
        drop[first:] = np.where(defined, (base_mean - current_rate[first:]) / np.abs(base_mean), np.nan)
    return Windows(baseline_rate, current_rate, drop)


# --- Backtest ---------------------------------------------------------------------------------------

CHUNK = 1 << 16  # the sequential backtest feeds the detector this many events at a time


@dataclass(frozen=True)
class Episode:
    """One trip in a backtest: where the evidence starts, where it trips, where it would be reset."""

    change_at: int  # first event of the evidence (the estimated start of the drop)
    tripped_at: int
    reset_at: int | None  # where an operator would reset: the KPI back (see `backtest`), if ever
    reference_rate: float
    current_rate: float
    drop: float | None
    statistic: float | None  # the CUSUM and its interval (sequential), None for the window rule
    threshold: float | None
    p_value: float | None


def backtest(values, settings: Settings) -> list[Episode]:
    """Replay `settings` over `values` (oldest first) in one pass: every trip, and the reset an
    operator would make once the KPI is back (a run of `baseline` events after the trip whose mean
    is within half the required drop of the reference); a reset starts a new epoch whose reference
    is learned after it. The window rule is applied after every event (the most trips it can give)."""
    values = np.asarray(values, dtype=float)
    sums, _ = _prefix(values)
    span = min(settings.baseline, len(values))
    recent = (sums[span:] - sums[:-span]) / span if span else np.zeros(0)  # recent[i]: events i..i+span-1
    if settings.detector == WINDOW_DROP:
        return _backtest_window_rule(values, settings, recent, span)
    episodes, position, carry = [], 0, Carry()
    while position < len(values):
        chunk = values[position : position + CHUNK]
        carry, trip = scan(chunk, settings, carry)
        if trip is None:
            position += len(chunk)
            continue
        at = position + trip.index
        reset_at = _recovery(recent, span, at, trip.reference_mean, trip.required_drop / 2)
        episodes.append(
            Episode(
                change_at=position + trip.start, tripped_at=at, reset_at=reset_at,
                reference_rate=trip.reference_mean, current_rate=trip.current_mean, drop=trip.drop,
                statistic=trip.statistic, threshold=trip.threshold, p_value=trip.p_value,
            )
        )  # fmt: skip
        if reset_at is None:
            break
        position, carry = reset_at + 1, Carry()
    return episodes


def _recovery(recent: np.ndarray, span: int, tripped_at: int, reference: float, allowed: float) -> int | None:
    """The last event of the first run of `span` events after `tripped_at` whose mean (`recent`,
    indexed by the run's first event) is back within `allowed` of the reference, if any; searched
    in growing blocks so that a long history is read once."""
    start, block = tripped_at + 1, 1024
    while start < len(recent):
        back = np.flatnonzero(reference - recent[start : start + block] <= allowed)
        if len(back):
            return int(start + back[0]) + span - 1
        start, block = start + block, block * 2
    return None


def _backtest_window_rule(values: np.ndarray, settings: Settings, recent: np.ndarray, span: int) -> list[Episode]:
    rule = window_drops(values, settings.window, settings.baseline)
    tripping = np.flatnonzero(breached(np.nan_to_num(rule.drop, nan=-np.inf), settings.max_drop))
    episodes, position = [], 0
    while True:
        next_trip = np.searchsorted(tripping, position)
        if next_trip == len(tripping):
            return episodes
        at = int(tripping[next_trip])
        reference = float(rule.baseline_rate[at])
        reset_at = _recovery(recent, span, at, reference, settings.max_drop * abs(reference) / 2)
        episodes.append(
            Episode(
                change_at=at + 1 - settings.window, tripped_at=at, reset_at=reset_at, reference_rate=reference,
                current_rate=float(rule.current_rate[at]), drop=float(rule.drop[at]),
                statistic=None, threshold=None, p_value=None,
            )
        )  # fmt: skip
        if reset_at is None:
            return episodes
        position = reset_at + 1
