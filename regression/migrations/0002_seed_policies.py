"""Seeds the four tripwires of the spec, all disabled (safest): an operator enables each one."""

from django.db import migrations

SEEDS = [
    # domain, metric, kind, action, max_drop_fraction
    ("WHOLESALE", "contract_rate", "SUCCESS_RATE", "THROTTLE", 0.20),
    ("WHOLESALE", "offer_accept_rate", "SUCCESS_RATE", "THROTTLE", 0.15),
    ("BUYER_MATCH", "match_success", "SUCCESS_RATE", "THROTTLE", 0.25),
    ("CAPITAL", "roi_event", "MEAN_VALUE", "KILL_SWITCH", 0.30),
]


def seed_policies(apps, schema_editor):
    RegressionPolicy = apps.get_model("regression", "RegressionPolicy")
    RegressionState = apps.get_model("regression", "RegressionState")
    for domain, metric, kind, action, max_drop in SEEDS:
        policy, _ = RegressionPolicy.objects.get_or_create(
            domain=domain,
            metric=metric,
            defaults={
                "enabled": False,
                "kind": kind,
                "action": action,
                "max_drop_fraction": max_drop,
                "window_events": 50,
                "baseline_events": 200,
                "lookback_days": 30,
                "changed_by": "migration",
            },
        )
        RegressionState.objects.get_or_create(policy=policy, defaults={"status": "disabled"})


class Migration(migrations.Migration):
    dependencies = [("regression", "0001_initial")]

    operations = [migrations.RunPython(seed_policies, migrations.RunPython.noop)]
