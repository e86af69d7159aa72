"""Celery beat's schedules (django-celery-beat): the tripwire evaluation and reservation expiry run
on them, so turning one off is turning a protection off. Every change goes through here and is
audited (who, before/after, why) in the same transaction; the admin calls these services.

Schedules are never deleted through the admin (an interval's delete cascades to its tasks): an
operator disables a task instead, which is audited and reversible.
"""

from django.db import models, transaction
from django_celery_beat.models import PeriodicTask

from governance_site.audit import services as audit
from governance_site.audit.models import Lever
from governance_site.policies import required_reason

WHAT = "change a beat schedule"
# django-celery-beat's task form picks `task` from a list of registered tasks named `regtask`.
TASK_FORM_FIELDS = {"regtask": "task"}


@transaction.atomic
def save_schedule(*, instance: models.Model, actor, reason: str, changed: list[str] | None = None) -> models.Model:
    """Create or change a periodic task or a schedule (interval, crontab, solar, clocked); audited.

    `changed` names the fields the operator changed: only those are written onto the row as it is
    now, so a change made meanwhile to another field (a task disabled) is kept. None: all fields.
    """
    reason = required_reason(reason, what=WHAT)
    stored = type(instance).objects.select_for_update().filter(pk=instance.pk).first() if instance.pk else None
    before = None if stored is None else audit.snapshot(stored)
    if stored is not None and changed is not None:
        names = {field.name for field in stored._meta.concrete_fields}
        for name in {TASK_FORM_FIELDS.get(name, name) for name in changed} & names:
            setattr(stored, name, getattr(instance, name))
        instance = stored
    instance.save()
    audit.record(
        actor=actor,
        lever=Lever.SCHEDULE,
        instance=instance,
        action="schedule.create" if stored is None else "schedule.update",
        before=before,
        reason=reason,
    )
    return instance


@transaction.atomic
def set_task_enabled(*, task: PeriodicTask, enabled: bool, actor, reason: str) -> PeriodicTask:
    """Enable or disable a periodic task; audited."""
    reason = required_reason(reason, what=WHAT)
    task = PeriodicTask.objects.select_for_update().get(pk=task.pk)
    before = audit.snapshot(task)
    task.enabled = enabled
    if not enabled:
        task.last_run_at = None  # as django-celery-beat's own action: re-enabled, it starts afresh
    task.save()  # its pre_save signal tells a running beat (PeriodicTasks.last_update)
    audit.record(
        actor=actor,
        lever=Lever.SCHEDULE,
        instance=task,
        action="schedule.enable" if enabled else "schedule.disable",
        before=before,
        reason=reason,
    )
    return task
