"""Writing the audit trail. Called by every lever's services inside their own transaction."""

from django.db import models, transaction

from .models import AuditEvent


def actor_name(actor) -> str:
    """The name recorded for an actor: a user's username, or a system actor's own name."""
    if actor is None:
        raise ValueError("An actor is required: a user or a named system actor such as 'tripwire/beat'.")
    if isinstance(actor, str):
        return actor
    return actor.get_username()


def snapshot(instance: models.Model) -> dict:
    """The values of a model's concrete fields, for the before/after of an audit event."""
    return {
        field.name: field.value_from_object(instance)
        for field in instance._meta.concrete_fields
        if field.name not in ("id", "updated_at")
    }


def record(
    *,
    actor,
    lever: str,
    instance: models.Model,
    action: str,
    before: dict | None,
    reason: str = "",
) -> AuditEvent:
    """Append one audit event: `before` (None for a creation) and the instance as saved now.
    Must run inside the transaction of the change it records; the only way an audit row is written."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Audit events are written inside the transaction of the change they record.")
    return AuditEvent.objects.create(
        actor=actor_name(actor),
        actor_user=None if isinstance(actor, str) else actor,
        lever=lever,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        action=action,
        before=before,
        after=snapshot(instance),
        reason=reason or "",
    )
