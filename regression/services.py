"""The Regression Tripwire: record KPI events, keep policies, evaluate them, act once, reset.

Lock order, everywhere: the policy row, then its state row (`_locked_state` takes both at once).
A triggered action calls the other levers' services inside the evaluation's transaction, so the
latch and the action commit together or not at all.
"""

import datetime as dt
import hashlib
import logging
import math
from dataclasses import dataclass
from functools import partial

import numpy as np
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from governance_site.alerts import services as alerts
from governance_site.audit import services as audit
from governance_site.audit.models import Lever
from governance_site.changes import Becomes, Loosens, require_approval
from governance_site.errors import Conflict, InvalidInput, NotFound, Unprocessable
from governance_site.identifiers import DOMAIN, METRIC
from governance_site.policies import PolicyContract, required_reason

from . import cascade, detectors, reasons, selectors
from .models import (
    Detector,
    KpiEvent,
    PolicyAction,
    PolicyKind,
    PolicyMode,
    RegressionPolicy,
    RegressionState,
    TripwireStatus,
)

logger = logging.getLogger(__name__)

BULK_INSERT_ROWS = 5000
LOOKUP_CHUNK = 900  # event_ids per IN (...) query: under SQLite's oldest parameter limit
READ_CHUNK = 100_000  # events per read of the sequential detector (about 10 MB of rows in Python)
REPLAY_FIELDS = ("domain", "metric", "success", "value", "model_version")
MAX_ABS_VALUE = 1e15  # keeps every mean and drop of the stored values finite
MAX_EVENT_ID = KpiEvent._meta.get_field("event_id").max_length
MAX_MODEL_VERSION = KpiEvent._meta.get_field("model_version").max_length
MAX_REPORTED_BY = KpiEvent._meta.get_field("reported_by").max_length


def _with_state(policy: RegressionPolicy, created: bool) -> None:
    """A new tripwire starts with its state."""
    RegressionState.objects.get_or_create(policy=policy)


POLICY = PolicyContract(
    model=RegressionPolicy,
    lever=Lever.REGRESSION,
    title="regression tripwire",
    keys=(DOMAIN, METRIC),
    fields=(
        "enabled",
        "kind",
        "window_events",
        "baseline_events",
        "lookback_days",
        "max_drop_fraction",
        "action",
        "detector",
        "mode",
        "false_alarm_events",
        "stale_after_hours",
        "heimdall_link",
    ),  # fmt: skip
    after_save=_with_state,
    loosening={
        "enabled": Loosens.TURN_OFF,
        "max_drop_fraction": Loosens.RAISE,
        "false_alarm_events": Loosens.RAISE,  # a larger budget: more evidence needed to trip
        "stale_after_hours": Loosens.RAISE,
        "mode": Becomes(PolicyMode.DRY_RUN),  # a trip that no longer acts
        # heimdall_link on: a trip demotes a model version instead of throttling or killing the domain.
        "heimdall_link": Loosens.TURN_ON,
    },
)


# --- KPI events --------------------------------------------------------------------------------


def _new_event(
    *,
    domain,
    metric,
    actor,
    success=None,
    value=None,
    event_id=None,
    occurred_at=None,
    reported_by="",
    model_version=None,
):
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
    if model_version is not None and (not isinstance(model_version, str) or len(model_version) > MAX_MODEL_VERSION):
        raise InvalidInput(
            f"model_version: must be a string of at most {MAX_MODEL_VERSION} characters.", field="model_version"
        )
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
        model_version=model_version or "",
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
    model_version: str | None = None,
    reported_by: str = "",
) -> tuple[KpiEvent, bool]:
    """Store one KPI event; returns (event, created).

    `actor` is who records it (the authenticated principal); `reported_by` is the engine's own,
    unverified label for the component that reported it.

    `event_id` is the engine's idempotency key: when it is already stored, nothing is written and
    the stored event is returned (created False). The same event_id for another domain, metric,
    success, value or model_version is refused with 422 `event_id_reused`. `model_version` (the
    model that acted) lets a tripwire with a Heimdall link demote the version that regressed.
    """
    event = _new_event(
        domain=domain, metric=metric, actor=actor, success=success, value=value,
        event_id=event_id, occurred_at=occurred_at, reported_by=reported_by, model_version=model_version,
    )  # fmt: skip
    try:
        with transaction.atomic():
            _insert([event], skip_conflicts=False)
            _queue_evaluations({(event.domain, event.metric)})
    except IntegrityError:
        stored = KpiEvent.objects.filter(event_id=event.event_id).first() if event.event_id else None
        if stored is None:
            raise
        return _replayed(stored, event), False
    return event, True


def _fence_key(domain: str, metric: str) -> int:
    """The PostgreSQL advisory-lock key of one (domain, metric)'s ingest: 64 bits of a hash."""
    return int.from_bytes(
        hashlib.blake2b(f"kpi:{domain}.{metric}".encode(), digest_size=8).digest(), "big", signed=True
    )


def _wait_for_ingest_in_flight(policy: RegressionPolicy) -> None:
    """Wait until every ingest of the policy's KPI that is in flight has committed or rolled back.

    Ingest holds a shared advisory lock on each (domain, metric) it inserts, from before its
    events get their ids until it commits (taken by `_insert`); SQLite
    serialises its writers anyway. Ids are handed out when rows are inserted, not when they
    commit: without this, a batch that commits after a later one could land below the
    detector's `seen_id` and be neither judged nor counted late. Once the exclusive lock is had
    (and at once released), every id handed out so far is visible, and every id handed out later
    is higher."""
    if connection.vendor != "postgresql":
        return
    key = _fence_key(policy.domain, policy.metric)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


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
    same event_id first wins; this batch then skips it at insert time
    (ON CONFLICT DO NOTHING, rows inserted in event_id order).
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
    # Inserted in event_id order: racing batches sharing event_ids then wait on one another's
    # uncommitted rows in the same order, and never each on the other's (a deadlock).
    new = sorted((event for event in built if event.event_id not in stored), key=lambda event: event.event_id or "")
    inserted = _insert(new, skip_conflicts=bool(ids))
    # A racing request may have stored some of these event_ids between the look-up and the insert,
    # which then skipped them: they are repeats too, a 422 (the whole batch undone) when they differ.
    skipped = [event.event_id for event in new if event.event_id and event.event_id not in inserted]
    raced = _stored_by_event_id(skipped) if skipped else {}
    for index, event in enumerate(built):
        if event.event_id in raced:
            _replayed(raced[event.event_id], event, index=index)
            duplicates.append(index)
    _queue_evaluations({(event.domain, event.metric) for event in new})
    return BatchResult(created=len(built) - len(duplicates), duplicates=sorted(duplicates))


_FENCE = (
    "(SELECT count(pg_advisory_xact_lock_shared(key)) FROM (SELECT unnest(%s::bigint[]) AS key ORDER BY 1) AS keys)"
)


def _insert(events: list[KpiEvent], *, skip_conflicts: bool) -> set[str | None]:
    """Insert the events (skipping event_ids stored meanwhile when told) under the ingest fence
    of their (domain, metric) pairs (see `_wait_for_ingest_in_flight`); a single event gets its id.
    Returns the event_ids this call stored: on PostgreSQL the insert's own RETURNING says which
    rows are its, exactly, however many requests race.

    On PostgreSQL, values go straight from the events to the database rather than value by value
    through the ORM, which cost more than the database's own work: a batch by COPY after the
    fence; one that must skip conflicts (COPY cannot) or a single event by one INSERT per
    BULK_INSERT_ROWS events, each column one array (INSERT ... SELECT FROM unnest(...)), the
    statement taking the fence itself (no row, so no id, leaves the join before the fence's one
    row). Elsewhere `bulk_create` does it."""
    now = timezone.now()
    for event in events:
        event.created_at = now  # as auto_now_add would: the race check above compares it
    connection = transaction.get_connection()
    everything = {event.event_id for event in events}
    if connection.vendor != "postgresql":
        KpiEvent.objects.bulk_create(events, batch_size=BULK_INSERT_ROWS, ignore_conflicts=skip_conflicts)
        if not skip_conflicts:
            return everything
        # SQLite serialises writers: the rows carrying the time bulk_create gave the events are theirs.
        stored = dict(KpiEvent.objects.filter(event_id__in=everything - {None}).values_list("event_id", "created_at"))
        return {event.event_id for event in events if stored.get(event.event_id) == event.created_at}
    fields = [field for field in KpiEvent._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = KpiEvent._meta.db_table
    if len(events) > 1 and not skip_conflicts:
        with connection.cursor() as cursor, connection.within_deadline("a COPY"):
            cursor.execute(f"SELECT {_FENCE}", [_fence_keys(events)])
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for event in events:
                    copy.write_row([getattr(event, field.attname) for field in fields])
        return everything
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    sql = f"INSERT INTO {table} ({columns}) SELECT rows.* FROM unnest({arrays}) AS rows, {_FENCE} AS fence"
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    sql += " RETURNING id, event_id"
    inserted = set()
    with connection.cursor() as cursor:
        for start in range(0, len(events), BULK_INSERT_ROWS):
            chunk = events[start : start + BULK_INSERT_ROWS]
            cursor.execute(sql, [*(_column(field, chunk) for field in fields), _fence_keys(chunk)])
            rows = cursor.fetchall()
            inserted.update(event_id for _, event_id in rows)
    if len(events) == 1 and rows:
        events[0].pk = rows[0][0]
    return inserted


def _fence_keys(events: list[KpiEvent]) -> list[int]:
    return sorted({_fence_key(event.domain, event.metric) for event in events})


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


def settings_of(policy: RegressionPolicy) -> detectors.Settings:
    return detectors.Settings(
        detector=policy.detector,
        rate=policy.kind == PolicyKind.SUCCESS_RATE,
        window=policy.window_events,
        baseline=policy.baseline_events,
        max_drop=policy.max_drop_fraction,
        false_alarm_events=policy.false_alarm_events,
    )


def _spec_numbers(state: RegressionState, policy: RegressionPolicy, now: dt.datetime) -> tuple[list, list]:
    """The spec's numbers, for every detector: the latest window against the baseline before it."""
    window, baseline = selectors.kpi_window(policy, now=now)
    full = len(window) == policy.window_events and len(baseline) == policy.baseline_events
    state.window_count, state.baseline_count = len(window), len(baseline)
    state.current_rate = math.fsum(window) / len(window) if window else None
    state.baseline_rate = math.fsum(baseline) / len(baseline) if baseline else None
    state.drop_fraction = None
    if full:
        rule = detectors.window_drops(baseline[::-1] + window[::-1], policy.window_events, policy.baseline_events)
        state.drop_fraction = None if math.isnan(rule.drop[-1]) else float(rule.drop[-1])
    return window, baseline


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _amount(policy: RegressionPolicy, mean: float, count: int) -> str:
    if policy.kind == PolicyKind.SUCCESS_RATE:
        return f"{round(mean * count)}/{count}"
    return f"mean {mean:.4g} of {count}"


def trigger_reason(state: RegressionState) -> str:
    """`Regression: DOMAIN.metric dropped X% (> Y%)`, then the evidence that decided it: the
    reason given to the action and the audit."""
    policy, facts = state.policy, state.explanation
    if facts.get("drop") is None:
        dropped = f"fell by {facts['absolute_drop']:.4g} (> {facts['required_drop']:.4g}, half a reference deviation)"
    else:
        dropped = f"dropped {_percent(facts['drop'])} (> {_percent(policy.max_drop_fraction)})"
    if facts["detector"] == Detector.WINDOW_DROP:
        evidence = (
            f"window {_amount(policy, facts['current_mean'], facts['current_n'])} vs baseline "
            f"{_amount(policy, facts['reference_mean'], facts['reference_n'])}, p = {facts['p_value']:.2g}"
        )
    else:
        evidence = (
            f"CUSUM {facts['statistic']:.1f} > {facts['threshold']:.1f} over "
            f"{_amount(policy, facts['evidence_mean'], facts['evidence_n'])} since {facts['change_at']} vs "
            f"reference {_amount(policy, facts['reference_mean'], facts['reference_n'])}, p = {facts['p_value']:.2g}"
        )
    return f"Regression: {policy} {dropped}; {evidence}"


def _window_rule(state: RegressionState, window: list, baseline: list) -> bool:
    """The spec's rule on the evaluation's window and baseline; explains it. True when it trips."""
    policy = state.policy
    full = len(window) == policy.window_events and len(baseline) == policy.baseline_events
    state.statistic = state.threshold = None
    state.explanation = {"detector": Detector.WINDOW_DROP, "drop": state.drop_fraction}
    if not full:
        return False
    reference = detectors.Reference(detectors.Stats.of(baseline), policy.kind == PolicyKind.SUCCESS_RATE)
    current = detectors.Stats.of(window)
    (p_value,) = detectors.confirm_p_values(current, reference)
    state.explanation |= {
        "reference_n": reference.stats.n, "reference_mean": reference.mean,
        "current_n": current.n, "current_mean": current.mean, "p_value": float(p_value),
    }  # fmt: skip
    return detectors.breached(state.drop_fraction, policy.max_drop_fraction)


def _sequential(state: RegressionState, now: dt.datetime) -> bool:
    """Feed the sequential detector every event since the last one it judged, in order; explains
    the verdict. True when it trips (its state then stands at the tripping event)."""
    policy = state.policy
    settings = settings_of(policy)
    position = (state.processed_at, state.processed_id or 0) if state.processed_at else None
    carry = detectors.Carry.from_json(state.detector_state)
    learned_with = [policy.kind, policy.window_events, policy.baseline_events]
    if state.explanation.get("learned_with", learned_with) != learned_with:
        # The kind, window or baseline changed: what was learned no longer applies; this epoch is
        # judged again from its start (the lookback's, for the first epoch) with the new settings.
        position, carry = None, detectors.Carry()
    _wait_for_ingest_in_flight(policy)
    if position is not None:
        late, highest = selectors.late_events(policy, seen_id=state.seen_id, before=position)
        state.late_events += late
        state.seen_id = max(state.seen_id, highest)
    since = state.epoch_started_at or now - dt.timedelta(days=policy.lookback_days)
    while True:  # READ_CHUNK events at a time: a first evaluation over a long lookback stays bounded
        events = selectors.kpi_events_in_order(policy, after=position, since=since, limit=READ_CHUNK)
        carry, trip = detectors.scan(events.values, settings, carry)
        used = len(events.ids) if trip is None else trip.index + 1
        if used:
            position = events.occurred_at[used - 1], events.ids[used - 1]
            state.processed_at, state.processed_id = position
            state.seen_id = max(state.seen_id, max(events.ids))
        if trip is not None or len(events.ids) < READ_CHUNK:
            break
    state.detector_state = carry.to_json()
    state.explanation = explain(policy, carry) | {"learned_with": learned_with}
    state.statistic, state.threshold = carry.statistic, state.explanation.get("threshold")
    if trip is None:
        return False
    change_at = events.occurred_at[trip.start] if trip.start >= 0 else selectors.nth_event_before(
        policy, (events.occurred_at[0], events.ids[0]), -trip.start
    )  # fmt: skip
    state.statistic = trip.statistic
    state.explanation |= trip.to_json() | {
        "tripped_at": events.occurred_at[trip.index].isoformat(),
        "change_at": change_at.isoformat() if change_at else "the epoch's start",
    }
    return True


def explain(policy: RegressionPolicy, carry: detectors.Carry) -> dict:
    """The sequential detector's numbers now: its statistic and decision interval, the reference
    and the evidence since the CUSUM last stood at zero."""
    facts = {
        "detector": Detector.SEQUENTIAL, "epoch_events": carry.epoch.n, "judged": carry.judged,
        "statistic": carry.statistic, "reference_n": carry.reference.n, "reference_pinned": carry.pinned,
        "evidence_n": carry.segment.n, "evidence_mean": carry.segment.mean,
    }  # fmt: skip
    if carry.learning:
        return facts
    reference = detectors.Reference(carry.reference, policy.kind == PolicyKind.SUCCESS_RATE)
    cusum = detectors.Cusum.design(reference, settings_of(policy))
    return facts | {
        "threshold": cusum.threshold, "reference_mean": reference.mean, "decidable": reference.decidable,
        "required_drop": reference.required_drop(policy.max_drop_fraction),
        "expected_delay": cusum.expected_delay(reference, 2 * policy.max_drop_fraction),
    }  # fmt: skip


def _quiet_status(state: RegressionState, now: dt.datetime | None = None) -> TripwireStatus:
    """The status of a tripwire that is not triggered."""
    policy = state.policy
    if not policy.enabled:
        return TripwireStatus.DISABLED
    newest = selectors.newest_event(policy)
    if newest is not None and newest[0] < (now or timezone.now()) - dt.timedelta(hours=policy.stale_after_hours):
        return TripwireStatus.STALE
    if policy.detector == Detector.WINDOW_DROP:
        full = state.window_count >= policy.window_events and state.baseline_count >= policy.baseline_events
        if not full:
            return TripwireStatus.INSUFFICIENT_DATA
        return TripwireStatus.OK if state.drop_fraction is not None else TripwireStatus.UNDECIDABLE
    facts = state.explanation
    if facts.get("reference_n", 0) == 0 or facts.get("judged", 0) < policy.window_events:
        return TripwireStatus.RELEARNING if state.epoch > 1 else TripwireStatus.INSUFFICIENT_DATA
    return TripwireStatus.OK if facts.get("decidable") else TripwireStatus.UNDECIDABLE


@transaction.atomic
def evaluate(*, domain: str, metric: str, actor) -> RegressionState:
    """Judge the policy's KPI; act on a regression.

    Every detector reports the spec's numbers: the latest `window_events` events within
    `lookback_days` (by occurred_at, then id) against the `baseline_events` before them
    (`baseline_rate`, `current_rate`, `drop_fraction`; the drop is null when the baseline cannot be
    told from zero, see `detectors.window_drops`).

    The `sequential` detector (the default) is fed every event since the last one it judged,
    exactly once and in order, from the start of the lookback at a policy's first evaluation (so a
    policy enabled after its events arrived decides from that history at once), or from the
    start of its epoch after a reset; see `detectors`. `window_drop` trips when the spec's drop is
    strictly above `max_drop_fraction` with a full window and baseline.

    A trip of an enabled policy latches the state (`triggered`) and, in `enforce` mode, takes the
    action (THROTTLE: the domain's risk policy is disabled; KILL_DOMAIN: the domain's kill switch
    is engaged; KILL_SWITCH: the kill switch is engaged; with `heimdall_link`, the regressing model
    versions are demoted instead; the cascade may escalate it, see `cascade.take_action`) with a
    reason that names the evidence; a triggered one whose window still breaches may be escalated
    by the cascade (`cascade.escalate`, audited `tripwire.escalate`); in `dry_run` mode it records what it would have
    done (`would_have_taken`, audit `tripwire.dry_run`) and acts on nothing. A latched state keeps
    its status and refreshes the spec's numbers until `reset`. A disabled policy gets its numbers
    and nothing else. The policy and state rows are locked for the whole evaluation, so concurrent
    evaluations of one policy act exactly once.

    Statuses besides `triggered`: `disabled`; `stale` (no event for `stale_after_hours`: said and
    logged, never acted on); `insufficient_data` (or `relearning` after a reset) while the detector
    has no reference or fewer than a window of judged events; `undecidable` when the reference
    cannot be told from zero (the sequential detector still catches drops of half a reference
    deviation); `ok`. Status changes are audited (`tripwire.trigger`, `tripwire.dry_run`,
    `tripwire.status`); refreshing the numbers of an unchanged status is not.
    """
    state = _locked_state(domain, metric)
    policy = state.policy
    before = audit.snapshot(state)
    now = timezone.now()
    window, baseline = _spec_numbers(state, policy, now)
    state.evaluated_at, state.evaluated_by = now, audit.actor_name(actor)
    action, reason = None, ""
    if state.triggered or not policy.enabled:
        if policy.detector == Detector.WINDOW_DROP:
            _window_rule(state, window, baseline)
        if not state.triggered:
            state.status = _quiet_status(state, now)
        elif (
            policy.mode == PolicyMode.ENFORCE
            and _still_breaches(state)
            and cascade.escalate(state, actor=actor, now=now)
        ):
            action, reason = "tripwire.escalate", state.chain
    else:
        if policy.detector == Detector.WINDOW_DROP:
            tripped = _window_rule(state, window, baseline)
        else:
            tripped = _sequential(state, now)
        if tripped:
            action, reason = _trip(state, actor=actor, now=now)
        else:
            state.status = _quiet_status(state, now)
    if action is None and state.status != before["status"]:
        action, reason = "tripwire.status", f"Evaluation: {before['status']} → {state.status}"
        if state.status == TripwireStatus.STALE:
            transaction.on_commit(partial(logger.warning, "Tripwire %s is stale: no event for %d hours",
                                          policy, policy.stale_after_hours))  # fmt: skip
    state.save()
    if action:
        _audit(state, actor, action, before, reason)
    return state


def _trip(state: RegressionState, *, actor, now: dt.datetime) -> tuple[str, str]:
    """Latch a trip; act on it in enforce mode. Returns the audit action and reason."""
    policy = state.policy
    reason = trigger_reason(state)
    state.status, state.triggered, state.triggered_at = TripwireStatus.TRIGGERED, True, now
    if policy.mode == PolicyMode.DRY_RUN:
        state.would_have_taken = policy.action
        verb = "THROTTLEd" if policy.action == PolicyAction.THROTTLE else "KILLed"
        reason = f"Dry run: would have {verb}. {reason}"
        transaction.on_commit(partial(logger.warning, "%s (nothing done)", reason))
        return "tripwire.dry_run", reason
    cascade.take_action(state, reason=reason, actor=actor, now=now)  # sets action_taken and chain
    name = audit.actor_name(actor)
    transaction.on_commit(partial(logger.warning, "%s; taken by %s", state.chain, name))
    return "tripwire.trigger", reason


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


def _new_epoch(state: RegressionState, *, started_at: dt.datetime, carry: detectors.Carry, position) -> None:
    state.epoch += 1
    state.epoch_started_at = started_at
    state.detector_state = carry.to_json()
    state.processed_at, state.processed_id = position
    state.explanation = explain(state.policy, carry)
    state.statistic, state.threshold = carry.statistic, state.explanation.get("threshold")


def _still_breaches(state: RegressionState) -> bool:
    """The last evaluation of an enabled policy, with both spans full, showed a drop past its threshold."""
    policy = state.policy
    full = state.window_count >= policy.window_events and state.baseline_count >= policy.baseline_events
    return policy.enabled and full and detectors.breached(state.drop_fraction, policy.max_drop_fraction)


def reset_warning(state: RegressionState) -> str | None:
    """What to tell an operator who reset a tripwire whose window still breaches (None otherwise)."""
    if state.status != TripwireStatus.BREACHING:
        return None
    policy = state.policy
    return (
        f"{policy} still breaches: its last evaluation showed a drop of {_percent(state.drop_fraction)} "
        f"(> {_percent(policy.max_drop_fraction)}). The latch is released and a new epoch starts: the tripwire "
        "relearns its reference from events after the reset and triggers again if they still show the drop."
    )


@transaction.atomic
def reset(*, domain: str, metric: str, reason: str, actor) -> RegressionState:
    """Release a triggered tripwire's latch and start a new epoch (409 `not_triggered` when it is
    not triggered, 409 `not_acknowledged` while its trigger's alert awaits acknowledgement); audited.

    The sequential detector learns a new reference from the events that occur after the reset
    and are stored after it (status `relearning` until it has a reference and a window of judged
    events), never from the bad events that tripped it. When the last evaluation's window still
    showed a drop past the threshold, the status is `breaching` until the next evaluation (never
    `ok` next to such a drop) and `reset_warning` says so. The action it took is not undone:
    re-enabling the risk policy or releasing the kill switch is a separate, deliberate step.
    """
    reason = required_reason(reason, what="reset a tripwire")
    state = _locked_state(domain, metric)
    if not state.triggered:
        raise Conflict(
            f"{state.policy} is not triggered: there is nothing to reset.",
            field=None,
            reason=reasons.NOT_TRIGGERED,
        )
    alerts.require_acknowledged(instance=state)  # 409 not_acknowledged until an operator has seen it
    if state.action_taken == PolicyAction.KILL_SWITCH:
        require_approval(what=f"Resetting {state.policy} (a KILL_SWITCH tripwire)")
    before = audit.snapshot(state)
    now = timezone.now()
    state.triggered, state.triggered_at, state.action_taken, state.would_have_taken = False, None, "", ""
    state.escalated_at, state.chain, state.acknowledged_by = None, "", ""
    # Every event stored before the reset stays out of the new epoch, even one dated after it.
    position = max((now, 0), selectors.newest_event(state.policy) or (now, 0))
    _new_epoch(state, started_at=now, carry=detectors.Carry(), position=position)
    state.status = TripwireStatus.BREACHING if _still_breaches(state) else _quiet_status(state, now)
    state.save()
    _audit(state, actor, "tripwire.reset", before, reason)
    return state


def _audit(state: RegressionState, actor, action: str, before: dict, reason: str) -> None:
    audit.record(actor=actor, lever=Lever.REGRESSION, instance=state, action=action, before=before, reason=reason)


UNDO_FIELDS = ("epoch", "epoch_started_at", "detector_state", "processed_at", "processed_id")


@transaction.atomic
def rebaseline(
    *, domain: str, metric: str, reason: str, actor, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> RegressionState:
    """The Friday step: pin the sequential detector's reference to the events of a good period
    (default: the 7 days before now), audited (`tripwire.rebaseline`); undo with `undo_rebaseline`.

    A new epoch starts with that reference, pinned (it never grows), and judges the events after
    the period. At least `baseline_events` events must fall in it (400 naming `start`).
    """
    reason = required_reason(reason, what="rebaseline a tripwire")
    state = _locked_state(domain, metric)
    policy = state.policy
    end = end or timezone.now()
    start = start or end - dt.timedelta(days=7)
    if start >= end:
        raise InvalidInput("start: must be before end.", field="start")
    events = selectors.kpi_events_in_order(policy, since=start, until=end)
    if len(events.ids) < policy.baseline_events:
        raise InvalidInput(
            f"start: {len(events.ids)} events between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M}; "
            f"a reference needs at least baseline_events ({policy.baseline_events}).",
            field="start",
        )
    before = audit.snapshot(state)
    undo = {name: before[name] for name in UNDO_FIELDS}
    undo["epoch_started_at"] = undo["epoch_started_at"] and undo["epoch_started_at"].isoformat()
    undo["processed_at"] = undo["processed_at"] and undo["processed_at"].isoformat()
    reference = detectors.Stats.of(events.values)
    tail = events.values[-(policy.window_events - 1) :].tolist() if policy.window_events > 1 else []
    carry = detectors.Carry(epoch=reference, reference=reference, pinned=True, tail=tail)
    _new_epoch(state, started_at=start, carry=carry, position=(events.occurred_at[-1], events.ids[-1]))
    state.rebaseline_undo = undo
    if not state.triggered:
        state.status = _quiet_status(state)
    state.save()
    _audit(state, actor, "tripwire.rebaseline", before, reason)
    return state


@transaction.atomic
def undo_rebaseline(*, domain: str, metric: str, reason: str, actor) -> RegressionState:
    """Put the detector back as it was before the last rebaseline (409 `no_rebaseline` when there
    is none to undo); audited (`tripwire.rebaseline_undo`). The events judged since are judged
    again against the restored reference at the next evaluation."""
    reason = required_reason(reason, what="undo a rebaseline")
    state = _locked_state(domain, metric)
    if not state.rebaseline_undo:
        raise Conflict(f"{state.policy} has no rebaseline to undo.", field=None, reason=reasons.NO_REBASELINE)
    before = audit.snapshot(state)
    undo = state.rebaseline_undo
    state.epoch, state.detector_state, state.processed_id = undo["epoch"], undo["detector_state"], undo["processed_id"]
    state.epoch_started_at = undo["epoch_started_at"] and dt.datetime.fromisoformat(undo["epoch_started_at"])
    state.processed_at = undo["processed_at"] and dt.datetime.fromisoformat(undo["processed_at"])
    state.rebaseline_undo = None
    carry = detectors.Carry.from_json(state.detector_state)
    state.explanation = explain(state.policy, carry)
    state.statistic, state.threshold = carry.statistic, state.explanation.get("threshold")
    if not state.triggered:
        state.status = _quiet_status(state)
    state.save()
    _audit(state, actor, "tripwire.rebaseline_undo", before, reason)
    return state


# --- Evaluation on ingest ------------------------------------------------------------------------


def _queue_evaluations(pairs: set[tuple[str, str]]) -> None:
    """Inside the ingest's transaction: mark the states of these (domain, metric) pairs' enabled
    policies that wait for no evaluation yet (`evaluation_queued`), and enqueue one evaluation
    each once the events commit. A state locked by a running evaluation is skipped (that
    evaluation waits for this ingest's fence, so it reads these events); so is one another ingest
    in flight has marked. The 5-minute beat is the safety net."""
    if not pairs:
        return
    match = Q()
    for domain, metric in pairs:
        match |= Q(policy__domain=domain, policy__metric=metric)
    waiting = RegressionState.objects.select_for_update(skip_locked=True, of=("self",)).filter(
        match, policy__enabled=True, evaluation_queued=False
    )
    ids = list(waiting.values_list("id", flat=True))
    if ids:
        RegressionState.objects.filter(id__in=ids).update(evaluation_queued=True)
        # A lambda, not a partial: a robust on_commit logs its callable's __qualname__ when it fails,
        # which a partial lacks (an AttributeError, a 500, for events already stored).
        transaction.on_commit(lambda: _send_evaluations(ids), robust=True)


def _send_evaluations(ids: list[int]) -> int:
    """Send the marked states' evaluations (after the events' commit); returns how many were sent.
    With the broker down, the states not sent are unmarked: the beat evaluates them later."""
    from .tasks import evaluate_tripwire

    for sent, state_id in enumerate(ids):
        try:
            evaluate_tripwire.delay(state_id)
        except Exception:  # the broker is down: the events are stored, and beat evaluates them later
            logger.warning("Tripwire evaluation on ingest not queued (broker unavailable)", exc_info=True)
            RegressionState.objects.filter(id__in=ids[sent:]).update(evaluation_queued=False)
            return sent
    return len(ids)


def evaluate_queued(*, state_id: int, actor) -> RegressionState | None:
    """The queued evaluation of one state (None if its policy is gone)."""
    RegressionState.objects.filter(id=state_id).update(evaluation_queued=False)
    policy = RegressionPolicy.objects.filter(state__id=state_id).first()
    if policy is None:
        return None
    return evaluate(domain=policy.domain, metric=policy.metric, actor=actor)


# --- Backtest --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    policy: RegressionPolicy  # saved, or a draft (not saved)
    events: int
    first_at: dt.datetime | None
    last_at: dt.datetime | None
    episodes: list[dict]  # each trip: change_at, tripped_at, reset_at (times), and its numbers
    false_trips: dict  # the estimate of false trips for these settings on data like this
    series: selectors.Events  # what was replayed (for the chart)


FALSE_TRIP_STREAMS = 200
FALSE_TRIP_EVENTS = 5_000
FALSE_TRIP_SEED = 20261130


def backtest(
    *, domain: str, metric: str, changes: dict | None = None, start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Backtest:  # fmt: skip
    """Replay the (domain, metric) policy, or a draft of it (`changes` to its fields, or a new
    policy's), over the stored events from `start` to `end` (default: all of them) in one pass:
    every trip with its estimated start and the reset an operator would make once the KPI is back,
    and an estimate of its false trips on stable data like this (seeded simulation). Writes nothing."""
    policy = RegressionPolicy.objects.filter(domain=domain, metric=metric).first() or RegressionPolicy(
        domain=domain, metric=metric
    )
    for name, value in (changes or {}).items():
        setattr(policy, name, value)
    try:
        policy.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, errors = next(iter(exc.error_dict.items()))
        raise InvalidInput(f"{field}: {errors[0].messages[0]}", field=field) from exc
    if start and end and start >= end:
        raise InvalidInput("start: must be before end.", field="start")
    events = selectors.kpi_events_in_order(policy, since=start, until=end)
    settings = settings_of(policy)
    moments = events.occurred_at

    def at(index):
        return None if index is None else moments[max(index, 0)]

    episodes = [
        {
            "change_at": at(episode.change_at), "tripped_at": at(episode.tripped_at), "reset_at": at(episode.reset_at),
            "change_index": episode.change_at, "tripped_index": episode.tripped_at, "reset_index": episode.reset_at,
            "reference_rate": episode.reference_rate, "current_rate": episode.current_rate, "drop": episode.drop,
            "statistic": episode.statistic, "threshold": episode.threshold, "p_value": episode.p_value,
        }
        for episode in detectors.backtest(events.values, settings)
    ]  # fmt: skip
    return Backtest(
        policy=policy,
        events=len(events.ids),
        first_at=moments[0] if moments else None,
        last_at=moments[-1] if moments else None,
        episodes=episodes,
        false_trips=_false_trip_estimate(events.values, settings),
        series=events,
    )


def _false_trip_estimate(values, settings: detectors.Settings) -> dict:
    """False trips of `settings` on stable streams like the first reference of `values`: each of
    FALSE_TRIP_STREAMS streams of FALSE_TRIP_EVENTS events resamples its first baseline's values
    (a success rate: Bernoulli at their rate), seeded."""
    reference = values[: settings.baseline]
    if len(reference) < settings.baseline:
        return {"streams": 0, "events": FALSE_TRIP_EVENTS, "seed": FALSE_TRIP_SEED, "tripped": None, "rate": None}
    rng = np.random.default_rng(FALSE_TRIP_SEED)
    tripped = 0
    for _ in range(FALSE_TRIP_STREAMS):
        if settings.rate:
            stream = (rng.random(FALSE_TRIP_EVENTS) < reference.mean()).astype(float)
        else:
            stream = rng.choice(reference, FALSE_TRIP_EVENTS)
        tripped += bool(detectors.backtest(stream, settings))
    return {
        "streams": FALSE_TRIP_STREAMS, "events": FALSE_TRIP_EVENTS, "seed": FALSE_TRIP_SEED,
        "tripped": tripped, "rate": tripped / FALSE_TRIP_STREAMS,
    }  # fmt: skip


@transaction.atomic
def acknowledge(*, domain: str, metric: str, reason: str, actor) -> RegressionState:
    """An operator has seen a tripwire's throttle: it no longer counts against the cascade's blast
    radius (409 `not_triggered` unless it is a triggered throttle); audited `tripwire.acknowledge`."""
    reason = required_reason(reason, what="acknowledge a throttle")
    state = _locked_state(domain, metric)
    if not state.triggered or state.action_taken != PolicyAction.THROTTLE:
        raise Conflict(f"{state.policy} holds no throttle to acknowledge.", field=None, reason=reasons.NOT_TRIGGERED)
    before = audit.snapshot(state)
    state.acknowledged_by = audit.actor_name(actor)
    state.save()
    _audit(state, actor, "tripwire.acknowledge", before, reason)
    return state
