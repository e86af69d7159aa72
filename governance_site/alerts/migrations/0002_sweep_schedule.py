"""Schedules the alerts sweep every minute (re-send unacknowledged critical alerts, hand over
overdue deliveries). get_or_create: operators' edits in the admin (Periodic tasks) survive."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "alerts: re-send and dispatch"


def schedule_sweep(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    _, created = PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "alerts.tasks.sweep",
            "interval": every_minute,
            "description": "Sends unacknowledged critical alerts again every ALERTS_RESEND_INTERVAL_SECONDS "
            "and hands Celery the deliveries nobody picked up.",
        },
    )
    if created:  # tell a running beat (DatabaseScheduler) that its schedule changed
        apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
            ident=1, defaults={"last_update": timezone.now()}
        )


def unschedule_sweep(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_sweep, unschedule_sweep)]
