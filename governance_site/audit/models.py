"""The shared, append-only audit trail: who changed which policy or switch, when, how and why."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.text import capfirst


class Lever(models.TextChoices):
    GOLIVE = "golive", "Go-Live"
    RISK = "risk", "Risk Guard"
    HEIMDALL = "heimdall", "Heimdall Charter"
    REGRESSION = "regression", "Regression Tripwire"
    REVIEW = "review", "Control-plane review"
    SCHEDULE = "schedule", "Beat schedule"  # the Celery beat schedules the levers' automation runs on


class Stamped(models.Model):
    """A row operators and automation change in place: who changed it last (the audit trail has
    the rest) and when, which is also the version a form or client saw (`policies.version_of`)."""

    changed_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an append-only record."""


def _refuse(model: type[models.Model], verb: str):
    raise AppendOnlyError(f"{capfirst(model._meta.verbose_name_plural)} cannot be {verb}.")


class AppendOnlyQuerySet(models.QuerySet):
    """The ORM's guard. On PostgreSQL a trigger (migration audit 0006) also refuses UPDATE and
    DELETE of these tables, whatever bypasses this queryset (the base manager, raw SQL)."""

    def update(self, **kwargs):
        _refuse(self.model, "changed")

    def delete(self):
        _refuse(self.model, "deleted")

    def _raw_delete(self, using):
        _refuse(self.model, "deleted")

    def bulk_create(self, objs, *args, update_conflicts=False, **kwargs):
        if update_conflicts:  # INSERT … ON CONFLICT DO UPDATE rewrites the stored row
            _refuse(self.model, "changed")
        return super().bulk_create(objs, *args, **kwargs)


class AppendOnlyModel(models.Model):
    """A record written once and never changed or deleted (audit events, KPI events, trials)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            _refuse(type(self), "changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse(type(self), "deleted")


class AuditEvent(AppendOnlyModel):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The actor's name: a username, or a named system actor such as "tripwire/beat".
    actor = models.CharField(max_length=150, db_index=True)
    # The user, while they exist. Deleting a user leaves the event untouched (DO_NOTHING, no
    # database constraint): SET_NULL would rewrite an append-only row, CASCADE erase the trail;
    # the name stays in `actor`, the id here (a deleted user's id is never reused).
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    lever = models.CharField(max_length=16, choices=Lever.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=128)
    object_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["lever", "-created_at"], name="audit_lever_created"),
            models.Index(fields=["object_type", "object_id", "-created_at"], name="audit_object_created"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_repr}"
