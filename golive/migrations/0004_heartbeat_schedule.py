"""Schedules cancel-on-disconnect every 10 seconds (django-celery-beat). get_or_create: operators' edits survive."""

from django.db import migrations

TASK_NAME = "golive: disconnect silent engines"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_10s = IntervalSchedule.objects.filter(every=10, period="seconds").first()
    if every_10s is None:
        every_10s = IntervalSchedule.objects.create(every=10, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "golive.tasks.disconnect_silent_engines",
            "interval": every_10s,
            "description": "Cancel-on-disconnect: engines silent past their heartbeat allowance lose their open "
            "reservations and are refused until they beat again.",
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("golive", "0003_scoped_kills_heartbeats"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
