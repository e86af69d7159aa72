"""The Regression Tripwire: record KPI events, keep policies, evaluate them, act once, reset.

Lock order, everywhere: the policy row, then its state row (`_locked_state` takes both at once).
A triggered action calls the other levers' services inside the evaluation's transaction, so the
latch and the action commit together or not at all.
"""

import datetime as dt
import logging
import math
import statistics
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from golive import services as golive
from governance_site.audit import services as audit
from governance_site.audit.models import Lever
from governance_site.errors import Conflict, InvalidInput, NotFound, Unprocessable
from governance_site.identifiers import DOMAIN, METRIC
from governance_site.policies import PolicyContract, required_reason
from risk import services as risk

from . import reasons, selectors
from .models import KpiEvent, PolicyAction, RegressionPolicy, RegressionState, TripwireStatus

logger = logging.getLogger(__name__)

BULK_INSERT_ROWS = 5000
LOOKUP_CHUNK = 900  # event_ids per IN (...) query: under SQLite's oldest parameter limit
# Rounding bound of the zero-baseline rule (see _drop_fraction).
ZERO_TOLERANCE = 1e-9
# Values closer than this (relative) to the threshold count as equal to it, so float rounding of
# an exact 20% drop never crosses a strict 20% threshold.
THRESHOLD_TOLERANCE = 1e-9
REPLAY_FIELDS = ("domain", "metric", "success", "value")
MAX_ABS_VALUE = 1e15  # keeps every mean and drop of the stored values finite
MAX_EVENT_ID = KpiEvent._meta.get_field("event_id").max_length
MAX_REPORTED_BY = KpiEvent._meta.get_field("reported_by").max_length


def _with_state(policy: RegressionPolicy, created: bool) -> None:
    """A new tripwire starts with its state."""
    RegressionState.objects.get_or_create(policy=policy)


POLICY = PolicyContract(
    model=RegressionPolicy,
    lever=Lever.REGRESSION,
    title="regression tripwire",
    keys=(DOMAIN, METRIC),
    fields=("enabled", "kind", "window_events", "baseline_events", "lookback_days", "max_drop_fraction", "action"),
    after_save=_with_state,
)


# --- KPI events --------------------------------------------------------------------------------


def _new_event(*, domain, metric, actor, success=None, value=None, event_id=None, occurred_at=None, reported_by=""):
    """The event to store, its input checked whatever the caller (the API's serializer or not)."""
    if success is None and value is None:
        raise InvalidInput("success: give success (true or false), value or both.", field="success")
    if success is not None and not isinstance(success, bool):
        raise InvalidInput("success: must be true or false.", field="success")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not abs(value) <= MAX_ABS_VALUE
    ):  # `not <=` is also true for NaN
        raise InvalidInput(f"value: must be a finite number within ±{MAX_ABS_VALUE:g}.", field="value")
    if event_id is not None and (not isinstance(event_id, str) or len(event_id) > MAX_EVENT_ID):
        raise InvalidInput(f"event_id: must be a string of at most {MAX_EVENT_ID} characters.", field="event_id")
    if occurred_at is not None and (not isinstance(occurred_at, dt.datetime) or timezone.is_naive(occurred_at)):
        raise InvalidInput("occurred_at: must be a time with its time zone.", field="occurred_at")
    if reported_by is not None and (not isinstance(reported_by, str) or len(reported_by) > MAX_REPORTED_BY):
        raise InvalidInput(
            f"reported_by: must be a string of at most {MAX_REPORTED_BY} characters.", field="reported_by"
        )
    return KpiEvent(
        domain=DOMAIN.clean(domain),
        metric=METRIC.clean(metric),
        success=success,
        value=value,
        actor=audit.actor_name(actor),
        reported_by=reported_by or "",
        event_id=event_id or None,
        occurred_at=occurred_at or timezone.now(),
    )


def _replayed(stored: KpiEvent, event: KpiEvent, *, index: int | None = None) -> KpiEvent:
    """The stored event for a repeated event_id, unless the repeat describes another event (422)."""
    differing = [name for name in REPLAY_FIELDS if getattr(stored, name) != getattr(event, name)]
    if differing:
        where = "event_id" if index is None else f"{index}.event_id"
        raise Unprocessable(
            f"{where}: {event.event_id!r} is already stored for another event ({differing[0]} differs).",
            field=where,
            reason=reasons.EVENT_ID_REUSED,
        )
    return stored


def record_kpi(
    *,
    domain: str,
    metric: str,
    actor,
    success: bool | None = None,
    value: float | None = None,
    event_id: str | None = None,
    occurred_at: dt.datetime | None = None,
    reported_by: str = "",
) -> tuple[KpiEvent, bool]:
    """Store one KPI event; returns (event, created).

    `actor` is who records it (the authenticated principal); `reported_by` is the engine's own,
    unverified label for the component that reported it.

    `event_id` is the engine's idempotency key: when it is already stored, nothing is written and
    the stored event is returned (created False). The same event_id for another domain, metric,
    success or value is refused with 422 `event_id_reused`.
    """
    event = _new_event(
        domain=domain, metric=metric, actor=actor, success=success, value=value,
        event_id=event_id, occurred_at=occurred_at, reported_by=reported_by,
    )  # fmt: skip
    try:
        # Outside a transaction the INSERT is atomic on its own and a failed one leaves the
        # connection usable: no BEGIN and COMMIT round trips. Inside one, a savepoint keeps the
        # caller's transaction alive after a repeated event_id.
        with transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext():
            event.save()
    except IntegrityError:
        stored = KpiEvent.objects.filter(event_id=event.event_id).first() if event.event_id else None
        if stored is None:
            raise
        return _replayed(stored, event), False
    return event, True


@dataclass(frozen=True)
class BatchResult:
    created: int
    duplicates: list[int]  # indexes of the events whose event_id was already stored (skipped)


@transaction.atomic
def record_kpi_batch(*, events: list[dict], actor) -> BatchResult:
    """Store many KPI events in one transaction: all of them, or none (any error raises).

    Each dict takes `record_kpi`'s arguments but `actor`: every event is recorded by `actor` (the
    authenticated principal), each with its own `reported_by` label. Events whose event_id is
    already stored are skipped and reported by index (a different event under a stored event_id
    is a 422); an event_id repeated inside the batch is a 400. A concurrent request storing the
    same event_id first wins; this batch then skips it at insert time.
    """
    built = []
    for index, fields in enumerate(events):
        try:
            built.append(_new_event(**fields, actor=actor))
        except InvalidInput as exc:
            raise InvalidInput(f"{index}.{exc.detail}", field=f"{index}.{exc.field}") from exc
    first_seen: dict[str, int] = {}
    for index, event in enumerate(built):
        if event.event_id in first_seen:
            raise InvalidInput(
                f"{index}.event_id: repeats the event_id of event {first_seen[event.event_id]}.",
                field=f"{index}.event_id",
            )
        if event.event_id:
            first_seen[event.event_id] = index
    ids = list(first_seen)
    stored = _stored_by_event_id(ids)
    duplicates = []
    for index, event in enumerate(built):
        if event.event_id in stored:
            _replayed(stored[event.event_id], event, index=index)
            duplicates.append(index)
    new = [event for event in built if event.event_id not in stored]
    _insert(new, skip_conflicts=bool(ids))
    if ids:
        # A racing request may have stored some of these event_ids between the look-up and the
        # insert, which then skipped them: find those (their stored created_at is not ours) and
        # treat them as repeats too, a 422 (the whole batch undone) when they differ.
        raced = _stored_by_event_id([event.event_id for event in new if event.event_id])
        for index, event in enumerate(built):
            winner = raced.get(event.event_id)
            if winner is not None and event.event_id not in stored and winner.created_at != event.created_at:
                _replayed(winner, event, index=index)
                duplicates.append(index)
    return BatchResult(created=len(built) - len(duplicates), duplicates=sorted(duplicates))


def _insert(events: list[KpiEvent], *, skip_conflicts: bool) -> None:
    """One INSERT per BULK_INSERT_ROWS events (skipping event_ids stored meanwhile when told).

    On PostgreSQL each column goes as one array (INSERT ... SELECT FROM unnest(...)), built
    straight from the events rather than value by value through the ORM, which cost more than the
    database's own work; elsewhere `bulk_create` does it."""
    now = timezone.now()
    for event in events:
        event.created_at = now  # as auto_now_add would: the race check above compares it
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        KpiEvent.objects.bulk_create(events, batch_size=BULK_INSERT_ROWS, ignore_conflicts=skip_conflicts)
        return
    fields = [field for field in KpiEvent._meta.concrete_fields if not field.primary_key]
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    sql = f"INSERT INTO {KpiEvent._meta.db_table} ({columns}) SELECT * FROM unnest({arrays})"
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        for start in range(0, len(events), BULK_INSERT_ROWS):
            chunk = events[start : start + BULK_INSERT_ROWS]
            cursor.execute(sql, [_column(field, chunk) for field in fields])


def _column(field, events: list[KpiEvent]) -> list:
    values = [getattr(event, field.attname) for event in events]
    if field.get_internal_type() == "FloatField":  # one array type: ints as floats
        return [None if value is None else float(value) for value in values]
    return values


def _stored_by_event_id(ids: list[str]) -> dict[str, KpiEvent]:
    return {
        event.event_id: event
        for start in range(0, len(ids), LOOKUP_CHUNK)
        for event in KpiEvent.objects.filter(event_id__in=ids[start : start + LOOKUP_CHUNK])
    }


# --- Policies ------------------------------------------------------------------------------------


def upsert_policy(
    *, domain: str, metric: str, changes: dict, actor, reason: str = "", version: str | None = None
) -> tuple[RegressionPolicy, bool]:
    """Create the (domain, metric) policy, or change the given fields of it; audited. A new
    policy starts with its state. Returns (policy, created)."""
    key = {"domain": domain, "metric": metric}
    return POLICY.upsert(key=key, changes=changes, actor=actor, reason=reason, version=version)


# --- Evaluation ----------------------------------------------------------------------------------


def _locked_state(domain: str, metric: str) -> RegressionState:
    """The policy's state with the policy and state rows locked until the transaction ends."""
    domain, metric = DOMAIN.clean(domain), METRIC.clean(metric)
    policy = RegressionPolicy.objects.filter(domain=domain, metric=metric).first()
    if policy is None:
        raise NotFound(f"No regression policy for {domain}.{metric}.")
    RegressionState.objects.get_or_create(policy=policy)
    return RegressionState.objects.select_for_update().select_related("policy").get(policy=policy)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _drop_fraction(baseline: list[float], window: list[float]) -> float | None:
    """(baseline_rate − current_rate) / |baseline_rate|; None when the baseline rate is about zero.

    The zero-baseline rule: a baseline rate that cannot be told from zero has no scale to measure
    a relative drop against (a success rate of 0% cannot fall; dividing by a mean of about zero
    turns noise into an unbounded drop). "Cannot be told from zero" is: within one standard error
    of the baseline's mean (its standard deviation / √n) of zero, or within ZERO_TOLERANCE ×
    max(1, largest |value|) for rounding. The drop is then undefined (null) and the tripwire does
    not trigger on it. The same bound keeps every reported drop finite.
    """
    baseline_rate, current_rate = _mean(baseline), _mean(window)
    scale = max(1.0, max(abs(value) for value in baseline))
    standard_error = statistics.pstdev(baseline) / math.sqrt(len(baseline))
    if abs(baseline_rate) <= max(ZERO_TOLERANCE * scale, standard_error):
        return None
    return (baseline_rate - current_rate) / abs(baseline_rate)


def _breached(drop: float | None, threshold: float) -> bool:
    """Strictly above the threshold; a drop equal to it up to float rounding does not count."""
    return (
        drop is not None
        and drop > threshold
        and not math.isclose(drop, threshold, rel_tol=THRESHOLD_TOLERANCE, abs_tol=1e-12)
    )


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}".rstrip("0").rstrip(".") + "%"


def trigger_reason(state: RegressionState) -> str:
    """`Regression: DOMAIN.metric dropped X% (> Y%)`, the reason given to the action and the audit."""
    policy = state.policy
    return f"Regression: {policy} dropped {_percent(state.drop_fraction)} (> {_percent(policy.max_drop_fraction)})"


def _quiet_status(state: RegressionState) -> TripwireStatus:
    """The status of a tripwire that is not triggered."""
    policy = state.policy
    if not policy.enabled:
        return TripwireStatus.DISABLED
    if state.window_count < policy.window_events or state.baseline_count < policy.baseline_events:
        return TripwireStatus.INSUFFICIENT_DATA
    return TripwireStatus.OK


def _take_action(policy: RegressionPolicy, *, reason: str, actor) -> None:
    if policy.action == PolicyAction.THROTTLE:
        risk.throttle_domain(domain=policy.domain, reason=reason, actor=actor)
    else:
        golive.set_kill_switch(engaged=True, reason=reason, actor=actor)


@transaction.atomic
def evaluate(*, domain: str, metric: str, actor) -> RegressionState:
    """Compare the policy's recent window of its KPI with the baseline before it; act on a drop.

    The window is the latest `window_events` events within `lookback_days` (by occurred_at, then
    id); the baseline is the `baseline_events` events just before them, also within the lookback.
    Unless both are full the status is `insufficient_data` and nothing triggers. A disabled policy
    is evaluated for its numbers (status `disabled`) and never acts.

    An enabled policy whose drop is strictly above `max_drop_fraction` triggers: its action runs
    (THROTTLE: the domain's risk policy is disabled; KILL_SWITCH: the kill switch is engaged) with
    the reason `Regression: DOMAIN.metric dropped X% (> Y%)`, and the state latches. A latched
    state keeps its status and refreshes its numbers, and its action is not repeated, until
    `reset`. The policy and state rows are locked for the whole evaluation, so concurrent
    evaluations of one policy act exactly once.

    Zero baseline: see `_drop_fraction` (the drop is null and nothing triggers).

    Status changes are audited (`tripwire.trigger`, `tripwire.status`); refreshing the numbers of
    an unchanged status is not (the state's `evaluated_at` / `evaluated_by` say who looked last).
    """
    state = _locked_state(domain, metric)
    policy = state.policy
    before = audit.snapshot(state)
    now = timezone.now()
    window, baseline = selectors.kpi_window(policy, now=now)
    full = len(window) == policy.window_events and len(baseline) == policy.baseline_events
    state.window_count, state.baseline_count = len(window), len(baseline)
    state.current_rate, state.baseline_rate = _mean(window), _mean(baseline)
    state.drop_fraction = _drop_fraction(baseline, window) if full else None
    state.evaluated_at, state.evaluated_by = now, audit.actor_name(actor)
    if state.triggered:
        action, reason = None, ""
    elif policy.enabled and full and _breached(state.drop_fraction, policy.max_drop_fraction):
        reason = trigger_reason(state)
        _take_action(policy, reason=reason, actor=actor)
        state.status, state.triggered, state.triggered_at = TripwireStatus.TRIGGERED, True, now
        state.action_taken = policy.action
        action = "tripwire.trigger"
        transaction.on_commit(partial(logger.warning, "%s; %s taken by %s", reason, policy.action, state.evaluated_by))
    else:
        state.status = _quiet_status(state)
        action = "tripwire.status" if state.status != before["status"] else None
        reason = f"Evaluation: {before['status']} → {state.status}"
    state.save()
    if action:
        audit.record(actor=actor, lever=Lever.REGRESSION, instance=state, action=action, before=before, reason=reason)
    return state


def evaluate_all(*, actor) -> dict[str, str]:
    """Evaluate every enabled policy, each in its own transaction: one failure does not stop the
    rest. Logs and returns each outcome ({"DOMAIN.metric": status, or "error"})."""
    outcomes = {}
    for policy in selectors.policies().filter(enabled=True):
        try:
            state = evaluate(domain=policy.domain, metric=policy.metric, actor=actor)
        except Exception:
            logger.exception("Tripwire %s: evaluation failed", policy)
            outcomes[str(policy)] = "error"
            continue
        logger.info(
            "Tripwire %s: %s (baseline %s, current %s, drop %s; window %d, baseline %d events)",
            policy, state.status, state.baseline_rate, state.current_rate, state.drop_fraction,
            state.window_count, state.baseline_count,
        )  # fmt: skip
        outcomes[str(policy)] = state.status
    return outcomes


def _still_breaches(state: RegressionState) -> bool:
    """The last evaluation of an enabled policy, with both spans full, showed a drop past its threshold."""
    policy = state.policy
    full = state.window_count >= policy.window_events and state.baseline_count >= policy.baseline_events
    return policy.enabled and full and _breached(state.drop_fraction, policy.max_drop_fraction)


def reset_warning(state: RegressionState) -> str | None:
    """What to tell an operator who reset a tripwire whose window still breaches (None otherwise)."""
    if state.status != TripwireStatus.BREACHING:
        return None
    policy = state.policy
    return (
        f"{policy} still breaches: its last evaluation showed a drop of {_percent(state.drop_fraction)} "
        f"(> {_percent(policy.max_drop_fraction)}). The latch is released, but the next evaluation "
        "triggers it again unless the cause is fixed."
    )


@transaction.atomic
def reset(*, domain: str, metric: str, reason: str, actor) -> RegressionState:
    """Release a triggered tripwire's latch (409 `not_triggered` when it is not triggered); audited.

    The action it took is not undone: re-enabling the risk policy or releasing the kill switch is
    a separate, deliberate step on those levers. The next evaluation decides afresh, and triggers
    again if the window still shows the drop: when the last evaluation showed one, the status is
    `breaching` (never `ok` next to a drop past the threshold) and `reset_warning` says so.
    """
    reason = required_reason(reason, what="reset a tripwire")
    state = _locked_state(domain, metric)
    if not state.triggered:
        raise Conflict(
            f"{state.policy} is not triggered: there is nothing to reset.",
            field=None,
            reason=reasons.NOT_TRIGGERED,
        )
    before = audit.snapshot(state)
    state.triggered, state.triggered_at, state.action_taken = False, None, ""
    state.status = TripwireStatus.BREACHING if _still_breaches(state) else _quiet_status(state)
    state.save()
    audit.record(
        actor=actor, lever=Lever.REGRESSION, instance=state, action="tripwire.reset", before=before, reason=reason
    )
    return state
