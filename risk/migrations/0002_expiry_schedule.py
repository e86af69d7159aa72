"""Schedules the expiry task every minute (django-celery-beat). get_or_create: operators' edits survive."""

from django.db import migrations

TASK_NAME = "risk: expire due reservations"


def schedule_expiry(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute = IntervalSchedule.objects.filter(every=1, period="minutes").first()
    if every_minute is None:
        every_minute = IntervalSchedule.objects.create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "risk.tasks.expire_due_reservations",
            "interval": every_minute,
            "description": "Expires reservations not settled by expires_at, freeing their exposure.",
        },
    )


def unschedule_expiry(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_expiry, unschedule_expiry)]
