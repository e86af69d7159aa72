"""Alerts (one per event worth telling), where they go (destinations) and each attempt to send one.

An alert that needs acknowledgement (a triggered tripwire, an engaged kill switch) carries it
here, keyed to the object it is about (`object_type`, `object_id`), so no lever's model changes.
"""

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models import Q

from governance_site.audit.models import AuditEvent, Lever, Stamped


class Severity(models.TextChoices):
    INFO = "info", "Info"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Alert(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The audited change that raised it (one alert per event: the one-to-one is the guarantee);
    # null for alerts the alerts app raises itself (a test, a delivery failing repeatedly).
    audit_event = models.OneToOneField(
        AuditEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="alert"
    )
    event = models.CharField(max_length=64, help_text="What happened, e.g. kill_switch.engage.")
    severity = models.CharField(max_length=8, choices=Severity.choices)
    lever = models.CharField(max_length=16, choices=Lever.choices, blank=True)
    title = models.CharField(max_length=200)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=128, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    actor = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    requires_ack = models.BooleanField(default=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    ack_note = models.TextField(blank=True)
    # How many times it has been sent to its destinations (1 + reminders) and when last.
    sends = models.PositiveIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["object_type", "object_id"],
                condition=Q(requires_ack=True, acknowledged_at__isnull=True),
                name="alert_unacknowledged",
            ),
        ]

    def __str__(self):
        return f"[{self.severity}] {self.title}"

    @property
    def unacknowledged(self) -> bool:
        return self.requires_ack and self.acknowledged_at is None


class DestinationKind(models.TextChoices):
    WEBHOOK = "webhook", "Signed JSON webhook"
    SLACK = "slack", "Slack-compatible incoming webhook"
    EMAIL = "email", "Email"


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


class Destination(Stamped):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=DestinationKind.choices)
    url = models.URLField(max_length=500, blank=True, help_text="Webhook and Slack destinations: where to POST.")
    secret = models.CharField(
        max_length=200, default=_new_secret, blank=True,
        help_text="Signed webhooks: the HMAC-SHA256 key the receiver verifies with.",
    )  # fmt: skip
    recipients = models.TextField(blank=True, help_text="Email destinations: addresses, one a line or comma-separated.")
    min_severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.INFO)
    levers = models.JSONField(default=list, blank=True, help_text="Only alerts of these levers (none: all).")
    paused = models.BooleanField(default=False, help_text="A paused destination is sent nothing (but a test).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def recipient_list(self) -> list[str]:
        return [address for address in self.recipients.replace(",", "\n").split() if address]

    def clean(self):
        if self.kind in (DestinationKind.WEBHOOK, DestinationKind.SLACK) and not self.url:
            raise ValidationError({"url": "A webhook or Slack destination needs a URL."})
        if self.kind == DestinationKind.WEBHOOK and not self.secret:
            raise ValidationError({"secret": "A signed webhook needs a secret."})
        if self.kind == DestinationKind.EMAIL:
            if not self.recipient_list:
                raise ValidationError({"recipients": "An email destination needs at least one address."})
            for address in self.recipient_list:
                try:
                    validate_email(address)
                except ValidationError as exc:
                    raise ValidationError({"recipients": f"{address!r} is not an email address."}) from exc
        unknown = [lever for lever in self.levers or [] if lever not in Lever.values]
        if not isinstance(self.levers, list) or unknown:
            raise ValidationError({"levers": f"Choose among {', '.join(Lever.values)}."})

    def wants(self, alert: Alert) -> bool:
        """Does this destination's severity and lever filter let `alert` through?"""
        if Severity(alert.severity).rank < Severity(self.min_severity).rank:
            return False
        return not self.levers or alert.lever in self.levers


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed; an operator may redeliver
    SKIPPED = "skipped"  # the destination was paused when its turn came


class Delivery(models.Model):
    """Sending one alert (its `round`-th time: 0 first, then each reminder) to one destination.

    The unique (alert, destination, round) row is the "one delivery per event" guarantee; a worker
    sends only after claiming the row with a conditional update, so duplicated tasks send once.
    """

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.ForeignKey(Destination, on_delete=models.PROTECT, related_name="deliveries")
    round = models.PositiveIntegerField(default=0, help_text="0: the first send; n: the n-th reminder.")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "destination", "round"], name="delivery_once_per_round"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self):
        return f"{self.alert} → {self.destination}"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery: when, the answer's status code, the error. Written once."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self):
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {'ok' if self.ok else 'failed'} {self.status_code or ''}"
