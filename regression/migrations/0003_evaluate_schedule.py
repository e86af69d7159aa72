"""Schedules the tripwire evaluation every 5 minutes (django-celery-beat); operators' edits in the
admin (Schedules) survive later migrations."""

from django.db import migrations

from governance_site import beat

TASK_NAME = "regression: evaluate tripwires"


def schedule_evaluation(apps, schema_editor):
    beat.schedule(
        apps, name=TASK_NAME, task="regression.tasks.evaluate_tripwires", every=5, period="minutes",
        description="Evaluates every enabled regression tripwire; a drop past its threshold throttles the domain "
        "or engages the kill switch.",
    )  # fmt: skip


def unschedule_evaluation(apps, schema_editor):
    beat.unschedule(apps, name=TASK_NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("regression", "0002_seed_policies"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_evaluation, unschedule_evaluation)]
