"""Raising alerts, delivering them, acknowledging them: the one place the alerting rules live.

An alert is written in the transaction of the change that caused it (from its audit event, see
`apps.py`), together with one Delivery row per destination that wants it; the deliveries are
handed to Celery only in `transaction.on_commit`, so a rolled-back change sends nothing and no
destination, however slow or down, can hold up the change itself.
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from governance_site.audit import services as audit
from governance_site.audit.models import AuditEvent
from governance_site.errors import Conflict, InvalidInput, NotFound

from . import reasons, rules, selectors, senders
from .models import Alert, Delivery, DeliveryAttempt, DeliveryStatus, Destination, Severity

logger = logging.getLogger(__name__)

TEST_EVENT = "alert.test"
DELIVERY_FAILING_EVENT = "delivery.failing"
# A claimed delivery whose worker died is claimable again after this long.
CLAIM_LEASE = dt.timedelta(minutes=5)
# Deliveries not picked up this long after they were due are handed to Celery again (broker was
# down at commit, a worker lost its message); duplicates are harmless (see `attempt_delivery`).
DISPATCH_GRACE = dt.timedelta(seconds=60)
# A retry's message may arrive this much before its delivery's `next_attempt_at` and still run.
CLOCK_SLACK = dt.timedelta(seconds=1)


# --- Raising ------------------------------------------------------------------------------------


def alert_for_audit_event(sender, instance: AuditEvent, created: bool, raw: bool = False, **kwargs) -> None:
    """post_save of AuditEvent: raise the alert its rule asks for, in the change's transaction.

    Alerting must never stop a change (the kill switch above all): a failure here is logged and
    rolled back to a savepoint, and the change commits without its alert.
    """
    if not created or raw:
        return
    rule = rules.rule_for(instance)
    if rule is None:
        return
    try:
        with transaction.atomic():
            _raise(
                audit_event=instance, event=instance.action, severity=rule.severity, lever=instance.lever,
                title=rule.title.format(object=instance.object_repr), object_type=instance.object_type,
                object_id=instance.object_id, object_repr=instance.object_repr, actor=instance.actor,
                reason=instance.reason, requires_ack=rule.requires_ack,
            )  # fmt: skip
    except Exception:
        logger.exception("No alert for audit event %s (%s)", instance.pk, instance.action)


def _raise(*, exclude: Destination | None = None, **fields) -> Alert:
    now = timezone.now()
    alert = Alert.objects.create(sends=1, last_sent_at=now, **fields)
    destinations = Destination.objects.filter(paused=False)
    if exclude is not None:
        destinations = destinations.exclude(pk=exclude.pk)
    _deliver(alert, [d for d in destinations if d.wants(alert)], round=0, now=now)
    return alert


def _deliver(alert: Alert, destinations: list[Destination], *, round: int, now: dt.datetime) -> list[Delivery]:
    deliveries = Delivery.objects.bulk_create(
        Delivery(alert=alert, destination=destination, round=round, next_attempt_at=now) for destination in destinations
    )
    ids = [delivery.pk for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: _enqueue(ids), robust=True)  # a partial has no __qualname__ for the log
    return deliveries


def _enqueue(delivery_ids: list[int], countdown: float | None = None) -> None:
    """Hand deliveries to Celery. No publish retries: with the broker down this fails fast (logged by
    on_commit's robust mode) and the sweep hands them over later."""
    from .tasks import deliver

    options = {"queue": settings.ALERTS_QUEUE} if settings.ALERTS_QUEUE else {}
    for delivery_id in delivery_ids:
        deliver.apply_async((delivery_id,), countdown=countdown, retry=False, **options)


def save_destination(*, destination: Destination, actor) -> Destination:
    """Create or change a destination (validated: a webhook needs a URL and a secret, an email an address)."""
    destination.changed_by = audit.actor_name(actor)
    try:
        destination.full_clean()
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        raise InvalidInput(f"{field}: {errors[0]}", field=field) from exc
    destination.save()
    return destination


@transaction.atomic
def send_test(*, destination_id: int, actor) -> Delivery:
    """Send a test alert to one destination now, whatever its filters (and even when paused)."""
    destination = Destination.objects.filter(pk=destination_id).first()
    if destination is None:
        raise NotFound(f"No alert destination {destination_id}.")
    now = timezone.now()
    alert = Alert.objects.create(
        event=TEST_EVENT, severity=Severity.INFO, title=f"Test alert for {destination}", actor=audit.actor_name(actor),
        reason="Sent with the admin's 'Send a test' button.", sends=1, last_sent_at=now,
    )  # fmt: skip
    [delivery] = _deliver(alert, [destination], round=0, now=now)
    return delivery


# --- Delivering ---------------------------------------------------------------------------------


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: base × 2^(attempts−1), capped."""
    return min(settings.ALERTS_RETRY_BASE_SECONDS * 2 ** (attempts - 1), settings.ALERTS_RETRY_MAX_SECONDS)


def _claim(delivery_id: int, now: dt.datetime) -> Delivery | None:
    """Take the delivery for this worker, or None when it is not due or someone else holds it.

    A conditional UPDATE in its own (autocommit) statement: of any number of workers handed the
    same delivery, exactly one sees a row count of 1.
    """
    due = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now + CLOCK_SLACK)
    abandoned = Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - CLAIM_LEASE)
    claimed = (
        Delivery.objects.filter(due | abandoned, pk=delivery_id)
        .update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now)
    )  # fmt: skip
    if not claimed:
        return None
    return Delivery.objects.select_related("alert", "destination").get(pk=delivery_id)


def attempt_delivery(*, delivery_id: int, now: dt.datetime | None = None) -> float | None:
    """Try to send one delivery once; returns the seconds to wait before retrying, or None.

    Not an atomic block: the claim commits before the (slow, outside) send, so other workers see
    it. A paused destination is skipped (a test alert is sent anyway). After
    ALERTS_MAX_ATTEMPTS failures the delivery is `failed` and a `delivery.failing` alert goes to
    the other destinations.
    """
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    if delivery.destination.paused and delivery.alert.event != TEST_EVENT:
        _finish(delivery, status=DeliveryStatus.SKIPPED, error="The destination is paused.")
        return None
    try:
        status_code = senders.send(delivery)
    except senders.SendFailed as exc:
        return _failed(delivery, now=now, status_code=exc.status_code, error=str(exc))
    DeliveryAttempt.objects.create(delivery=delivery, attempted_at=now, ok=True, status_code=status_code)
    _finish(delivery, status=DeliveryStatus.DELIVERED, status_code=status_code, delivered_at=timezone.now())
    return None


def _finish(delivery: Delivery, *, status: DeliveryStatus, error: str = "", status_code=None, **fields) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, last_error=error[: senders.MAX_ERROR_CHARS], last_status_code=status_code,
        claimed_at=None, updated_at=timezone.now(), **fields,
    )  # fmt: skip


def _failed(delivery: Delivery, *, now: dt.datetime, status_code: int | None, error: str) -> float | None:
    DeliveryAttempt.objects.create(
        delivery=delivery, attempted_at=now, ok=False, status_code=status_code, error=error[: senders.MAX_ERROR_CHARS]
    )
    logger.warning("Alert delivery %s to %s failed (attempt %d): %s", delivery.pk, delivery.destination,
                   delivery.attempts, error)  # fmt: skip
    if delivery.attempts < settings.ALERTS_MAX_ATTEMPTS:
        wait = backoff(delivery.attempts)
        _finish(delivery, status=DeliveryStatus.RETRYING, error=error, status_code=status_code,
                next_attempt_at=now + dt.timedelta(seconds=wait))  # fmt: skip
        return wait
    with transaction.atomic():
        _finish(delivery, status=DeliveryStatus.FAILED, error=error, status_code=status_code, next_attempt_at=None)
        if delivery.alert.event not in (TEST_EVENT, DELIVERY_FAILING_EVENT):  # never alert about alerting's alerts
            _raise(
                exclude=delivery.destination, event=DELIVERY_FAILING_EVENT, severity=Severity.INFO,
                title=f"Alert destination {delivery.destination} is failing",
                object_type=Destination._meta.label_lower, object_id=str(delivery.destination.pk),
                object_repr=str(delivery.destination),
                reason=f"{delivery.attempts} attempts to send alert #{delivery.alert.pk} failed; last: {error}",
            )  # fmt: skip
    return None


def redeliver(*, delivery_ids: list[int]) -> int:
    """Send these deliveries again from attempt 1 (a delivery being sent right now is left alone)."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.filter(pk__in=delivery_ids)
            .exclude(status=DeliveryStatus.SENDING, claimed_at__gte=now - CLAIM_LEASE)
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, claimed_at=None, updated_at=now
        )
        if ids:
            transaction.on_commit(lambda: _enqueue(ids), robust=True)  # a partial has no __qualname__ for the log
    return len(ids)


def dispatch_due(*, now: dt.datetime | None = None) -> int:
    """Hand Celery the deliveries due for longer than DISPATCH_GRACE (or abandoned by a worker)."""
    now = now or timezone.now()
    overdue = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now - DISPATCH_GRACE)
    abandoned = Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - CLAIM_LEASE)
    ids = list(Delivery.objects.filter(overdue | abandoned).values_list("pk", flat=True))
    _enqueue(ids)
    return len(ids)


def resend_unacknowledged(*, now: dt.datetime | None = None) -> int:
    """Send again every unacknowledged critical alert last sent ALERTS_RESEND_INTERVAL_SECONDS ago.

    Each reminder is a new round of deliveries; a conditional update on the alert's send count
    makes one reminder per interval however many sweeps run at once. Returns the alerts re-sent.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.ALERTS_RESEND_INTERVAL_SECONDS)
    due = selectors.unacknowledged().filter(severity=Severity.CRITICAL, last_sent_at__lte=cutoff)
    resent = 0
    for alert in due:
        with transaction.atomic():
            bumped = (
                Alert.objects.filter(pk=alert.pk, sends=alert.sends, acknowledged_at__isnull=True)
                .update(sends=F("sends") + 1, last_sent_at=now)
            )  # fmt: skip
            if bumped:
                destinations = [d for d in Destination.objects.filter(paused=False) if d.wants(alert)]
                _deliver(alert, destinations, round=alert.sends, now=now)
                resent += 1
    return resent


# --- Acknowledging ------------------------------------------------------------------------------


@transaction.atomic
def acknowledge(*, alert_id: int, note: str, actor) -> Alert:
    """An operator has seen the alert and is on it: who, when and their note; audited."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("note: say what you are doing about it (it goes to the audit trail).", field="note")
    alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    if not alert.requires_ack:
        raise Conflict(f"Alert #{alert.pk} needs no acknowledgement.", reason=reasons.NO_ACKNOWLEDGEMENT_NEEDED)
    if alert.acknowledged_at is not None:
        raise Conflict(
            f"Alert #{alert.pk} was acknowledged by {alert.acknowledged_by} at {alert.acknowledged_at:%Y-%m-%d %H:%M}.",
            reason=reasons.ALREADY_ACKNOWLEDGED,
        )
    before = audit.snapshot(alert)
    alert.acknowledged_at, alert.acknowledged_by, alert.ack_note = timezone.now(), audit.actor_name(actor), note
    alert.save(update_fields=["acknowledged_at", "acknowledged_by", "ack_note"])
    audit.record(actor=actor, lever=alert.lever, instance=alert, action="alert.acknowledge", before=before, reason=note)
    return alert


def require_acknowledged(*, instance: models.Model) -> None:
    """Conflict (409 `not_acknowledged`) while an alert about `instance` awaits acknowledgement."""
    pending = selectors.unacknowledged_for(instance).order_by("created_at").first()
    if pending is not None:
        raise Conflict(
            f"{instance} has an unacknowledged alert (#{pending.pk}: {pending.title}): acknowledge it first.",
            reason=reasons.NOT_ACKNOWLEDGED,
        )
