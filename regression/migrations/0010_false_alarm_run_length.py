"""The false-alarm budget becomes the exact in-control run length (the decision interval is computed
from it, no longer Lorden's h = ln of it): the default moves from 50,000 to 250,000 events, and the
policies still at the old default move with it, since 50,000 now means several times
as many false trips as they were set up with."""

import django.core.validators
from django.db import migrations, models

OLD, NEW = 50_000, 250_000


ACTOR = "migration/regression.0010"
REASON = (
    "The false-alarm budget is now the detector's exact average run length between false trips; "
    f"{OLD:,} under the old rule meant about as few false trips as {NEW:,} does now."
)


def _snapshot(policy) -> dict:
    return {
        f.name: f.value_from_object(policy) for f in policy._meta.concrete_fields if f.name not in ("id", "updated_at")
    }


def move_default(apps, schema_editor):
    """Only rows still at the old default move (the four seeded policies, on a fresh install). A
    policy a person or automation has changed (it has audit events) gets one more, by this
    migration, with its before and after; the seeded rows, created by a migration without one,
    change the same way they were created."""
    Policy = apps.get_model("regression", "RegressionPolicy")
    AuditEvent = apps.get_model("audit", "AuditEvent")
    audited = set(
        AuditEvent.objects.filter(object_type="regression.regressionpolicy").values_list("object_id", flat=True)
    )
    for policy in Policy.objects.filter(false_alarm_events=OLD):
        before = _snapshot(policy)
        policy.false_alarm_events, policy.changed_by = NEW, ACTOR
        policy.save(update_fields=["false_alarm_events", "changed_by", "updated_at"])
        if str(policy.pk) in audited:
            AuditEvent.objects.create(
                actor=ACTOR,
                lever="regression",
                object_type="regression.regressionpolicy",
                object_id=str(policy.pk),
                object_repr=f"{policy.domain}.{policy.metric}",
                action="policy.update",
                before=before,
                after=_snapshot(policy),
                reason=REASON,
            )


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
