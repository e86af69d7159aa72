"""Change requests for loosening changes, and the approvals they collect (per revision)."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from governance_site.audit.models import Lever


class Status(models.TextChoices):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"


EXPIRED = "expired"  # a pending request past its expiry: a matter of time, never stored
STATES = (Status.PENDING, EXPIRED, Status.APPLIED, Status.REJECTED)  # what a request is now (`state`)


class Kind(models.TextChoices):
    KILL_SWITCH_RELEASE = "kill_switch.release", "Release the kill switch"
    GO_LIVE_ENABLE = "go_live.enable", "Enable go-live"
    TRIPWIRE_RESET = "tripwire.reset", "Reset a KILL_SWITCH tripwire"
    POLICY_UPDATE = "policy.update", "Loosen a policy"


class ChangeRequest(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    lever = models.CharField(max_length=16, choices=Lever.choices)
    target = models.CharField(max_length=200, help_text="What it changes.")
    params = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder, help_text="The change asked for.")
    diff = models.JSONField(default=dict, encoder=DjangoJSONEncoder, help_text="{field: [before, after]}")
    seen = models.JSONField(default=dict, encoder=DjangoJSONEncoder, help_text="The state it was made against.")
    reason = models.TextField()
    requested_by = models.CharField(max_length=150)
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revision = models.PositiveIntegerField(default=1, help_text="An edit makes a new one; approvals are per revision.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField()
    decided_by = models.CharField(max_length=150, blank=True, help_text="Who applied or rejected it.")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    emergency = models.BooleanField(default=False, help_text="Applied with the emergency bypass, without approvals.")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("emergency_bypass", "Can apply a loosening change without approvals (emergency; audited)")]
        indexes = [models.Index(fields=["status", "-created_at"], name="change_status_created")]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()}: {self.target}"

    @property
    def expired(self) -> bool:
        return self.status == Status.PENDING and self.expires_at <= timezone.now()

    @property
    def state(self) -> str:
        """pending, expired, applied or rejected (expiry is a matter of time, not a write)."""
        return EXPIRED if self.expired else self.status

    def current_approvals(self):
        return self.approvals.filter(revision=self.revision)


class Approval(models.Model):
    change_request = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="approvals")
    revision = models.PositiveIntegerField()
    approver = models.CharField(max_length=150)
    approver_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["change_request", "revision", "approver"], name="approval_once_per_revision"
            ),
        ]

    def __str__(self):
        return f"{self.approver} approved revision {self.revision}"
