"""Creates the production state row with production off and the kill switch released (safest)."""

from django.db import migrations


def create_state(apps, schema_editor):
    apps.get_model("golive", "GoLiveState").objects.get_or_create(
        pk=1, defaults={"go_live_enabled": False, "kill_switch_engaged": False, "reason": "Fresh install"}
    )


class Migration(migrations.Migration):
    dependencies = [("golive", "0001_initial")]

    operations = [migrations.RunPython(create_state, migrations.RunPython.noop)]
