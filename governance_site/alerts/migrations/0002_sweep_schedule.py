"""Schedules the alerts sweep every minute (re-send unacknowledged critical alerts, hand over
overdue deliveries); operators' edits in the admin (Schedules) survive later migrations."""

from django.db import migrations

from governance_site import beat

TASK_NAME = "alerts: re-send and dispatch"


def schedule_sweep(apps, schema_editor):
    beat.schedule(
        apps, name=TASK_NAME, task="alerts.tasks.sweep", every=1, period="minutes",
        description="Sends unacknowledged critical alerts again every ALERTS_RESEND_INTERVAL_SECONDS and hands "
        "Celery the deliveries nobody picked up.",
    )  # fmt: skip


def unschedule_sweep(apps, schema_editor):
    beat.unschedule(apps, name=TASK_NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_sweep, unschedule_sweep)]
