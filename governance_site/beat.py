"""Periodic tasks created by data migrations (django-celery-beat), editable afterwards in the admin."""

from django.utils import timezone


def schedule(apps, *, name: str, task: str, every: int, period: str, description: str) -> None:
    """Create the periodic task `name` unless it exists: operators' edits survive later migrations."""
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval = IntervalSchedule.objects.filter(every=every, period=period).first()
    if interval is None:
        interval = IntervalSchedule.objects.create(every=every, period=period)
    _, created = PeriodicTask.objects.get_or_create(
        name=name, defaults={"task": task, "interval": interval, "description": description}
    )
    if created:  # tell a running beat (DatabaseScheduler) that its schedule changed
        apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
            ident=1, defaults={"last_update": timezone.now()}
        )


def unschedule(apps, *, name: str) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()
