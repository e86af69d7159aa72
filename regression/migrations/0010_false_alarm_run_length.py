"""The false-alarm budget becomes the exact in-control run length (the decision interval is computed
from it, no longer Lorden's h = ln of it): the default moves from 50,000 to 250,000 events, and the
policies still at the old default move with it, since 50,000 now means several times
as many false trips as they were set up with."""

import django.core.validators
from django.db import migrations, models

OLD, NEW = 50_000, 250_000


def move_default(apps, schema_editor):
    """Only rows still at the old default move (the four seeded policies, on a fresh install). No
    audit event is written here: a migration's rows would land in every test database's trail; the
    migration itself is the record of the change."""
    apps.get_model("regression", "RegressionPolicy").objects.filter(false_alarm_events=OLD).update(
        false_alarm_events=NEW
    )


class Migration(migrations.Migration):
    dependencies = [
        ("regression", "0009_levers_together"),
    ]

    operations = [
        migrations.AlterField(
            model_name="regressionpolicy",
            name="false_alarm_events",
            field=models.PositiveIntegerField(
                default=250000,
                help_text="Sequential detector: on average this many events between false trips on a stable KPI "
                "(its in-control average run length; the decision interval is computed from it).",
                validators=[
                    django.core.validators.MinValueValidator(100),
                    django.core.validators.MaxValueValidator(1000000000),
                ],
            ),
        ),
        migrations.RunPython(move_default, migrations.RunPython.noop),
    ]
