"""The false-alarm budget becomes the exact in-control run length (the decision interval is computed
from it, no longer Lorden's h = ln of it): the default moves from 50,000 to 150,000 events, and the
policies still at the old default move with it (audited), since 50,000 now means about three times
as many false trips as they were set up with."""

import django.core.validators
from django.db import migrations, models

OLD, NEW = 50_000, 150_000
REASON = (
    "Migration 0010: the false-alarm budget is now the detector's exact in-control run length; "
    f"the old default {OLD:,} moves to the new default {NEW:,} (about the same false trips as before)."
)


def move_default(apps, schema_editor):
    policy_model = apps.get_model("regression", "RegressionPolicy")
    event_model = apps.get_model("audit", "AuditEvent")
    for policy in policy_model.objects.filter(false_alarm_events=OLD):
        before = {field.name: field.value_from_object(policy) for field in policy._meta.concrete_fields}
        policy.false_alarm_events = NEW
        policy.save(update_fields=["false_alarm_events"])
        after = {field.name: field.value_from_object(policy) for field in policy._meta.concrete_fields}
        event_model.objects.create(
            actor="migration", lever="regression", object_type="regression.regressionpolicy",
            object_id=str(policy.pk), object_repr=f"{policy.domain}.{policy.metric}"[:200], action="policy.update",
            before={key: value for key, value in before.items() if key not in ("id", "updated_at")},
            after={key: value for key, value in after.items() if key not in ("id", "updated_at")},
            reason=REASON,
        )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [
        ("regression", "0009_levers_together"),
        ("audit", "0006_append_only_in_the_database"),
    ]

    operations = [
        migrations.AlterField(
            model_name="regressionpolicy",
            name="false_alarm_events",
            field=models.PositiveIntegerField(
                default=150000,
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
