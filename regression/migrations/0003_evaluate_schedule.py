"""Schedules the tripwire evaluation every 5 minutes (django-celery-beat). get_or_create: operators'
edits in the admin (Periodic tasks) survive later migrations."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "regression: evaluate tripwires"


def schedule_evaluation(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_5_minutes = IntervalSchedule.objects.filter(every=5, period="minutes").first()
    if every_5_minutes is None:
        every_5_minutes = IntervalSchedule.objects.create(every=5, period="minutes")
    _, created = PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "regression.tasks.evaluate_tripwires",
            "interval": every_5_minutes,
            "description": "Evaluates every enabled regression tripwire; a drop past its threshold "
            "throttles the domain or engages the kill switch.",
        },
    )
    if created:  # tell a running beat (DatabaseScheduler) that its schedule changed
        apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
            ident=1, defaults={"last_update": timezone.now()}
        )


def unschedule_evaluation(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("regression", "0002_seed_policies"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_evaluation, unschedule_evaluation)]
