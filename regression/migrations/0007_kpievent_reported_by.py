"""KPI events: `actor` is the authenticated principal; the engine's own label moves to `reported_by`.

Before this, an engine could stamp any `actor` on its events. Rows stored earlier keep their
`actor` as it was (it may be such a label: the principal that posted them is not recorded) and an
empty `reported_by`. A database default keeps raw inserts (COPY, benchmarks) working.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("regression", "0006_tripwire_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="kpievent",
            name="reported_by",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="The engine's own label for the component that reported it (the API's `actor`); not verified.",
                max_length=150,
            ),
        ),
        migrations.AlterField(
            model_name="kpievent",
            name="actor",
            field=models.CharField(help_text="Who recorded it: the authenticated principal.", max_length=150),
        ),
    ]
