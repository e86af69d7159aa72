"""A lock held elsewhere: the gate answers state_unavailable after the lock timeout instead of
hanging, and one stuck tripwire does not stall the evaluation of the others."""

import pytest
from django.conf import settings
from django.db import connection

from golive.models import GoLiveState
from heimdall.models import HeimdallPolicy
from regression import services as regression
from regression.models import RegressionState
from risk import services as risk
from risk.models import RiskPolicy
from tests.conftest import requires_postgres
from tests.faults import held_elsewhere

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

SETUP = "tests/setup"


def lock_table(model) -> str:
    return f"LOCK TABLE {model._meta.db_table} IN ACCESS EXCLUSIVE MODE"


def test_connections__carry_the_configured_timeouts():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setting::int FROM pg_settings WHERE name IN ('lock_timeout', 'statement_timeout') ORDER BY name"
        )
        assert [row[0] for row in cursor.fetchall()] == [
            settings.DATABASE_LOCK_TIMEOUT_MS,
            settings.DATABASE_STATEMENT_TIMEOUT_MS,
        ]


def test_go_live_check__state_table_locked_elsewhere__423_state_unavailable(api, engine, live):
    client = api(engine)
    with held_elsewhere(lock_table(GoLiveState)) as lock:
        response = client.get("/api/governance/go-live/check")
    assert response.status_code == 423
    assert {"ok": False, "reason": "state_unavailable"}.items() <= response.json().items()
    assert lock["held_throughout"]  # answered while the lock was still held: it did not wait for it
    assert client.get("/api/governance/go-live/check").status_code == 204


def test_reserve__policy_row_locked_elsewhere__denied_state_unavailable(api, engine, live):
    caps = {"max_daily_loss": "1000", "max_open_exposure": "5000", "max_daily_actions": 100}
    risk.upsert_policy(domain="WHOLESALE", changes={"enabled": True, **caps}, actor=SETUP)
    sql = f"SELECT 1 FROM {RiskPolicy._meta.db_table} WHERE domain = 'WHOLESALE' FOR UPDATE"
    body = {"domain": "WHOLESALE", "amount": "10"}
    with held_elsewhere(sql) as lock:
        response = api(engine).post("/api/governance/risk/reserve", body, format="json")
    assert (response.status_code, response.json()["ok"], response.json()["reason"]) == (200, False, "state_unavailable")
    assert lock["held_throughout"]


def test_heimdall_check__policy_table_locked_elsewhere__not_eligible_state_unavailable(api, engine, live):
    body = {"domain": "WHOLESALE", "confidence": 0.99}
    with held_elsewhere(lock_table(HeimdallPolicy)) as lock:
        response = api(engine).post("/api/governance/heimdall/check", body, format="json")
    assert response.status_code == 200
    assert (response.json()["prod_eligible"], response.json()["reason"]) == (False, "state_unavailable")
    assert lock["held_throughout"]


def test_evaluate_all__one_tripwire_locked_elsewhere__the_others_evaluated():
    stuck, other = (
        regression.upsert_policy(domain=domain, metric="contract_rate", changes={"enabled": True}, actor=SETUP)[0]
        for domain in ("WHOLESALE", "CAPITAL")
    )
    events = [{"domain": "CAPITAL", "metric": "contract_rate", "success": True} for _ in range(10)]
    regression.record_kpi_batch(events=events, actor=SETUP)
    sql = f"SELECT 1 FROM {RegressionState._meta.db_table} WHERE policy_id = {stuck.pk} FOR UPDATE"
    with held_elsewhere(sql) as lock:
        outcomes = regression.evaluate_all(actor="tripwire/beat")
    assert outcomes[str(stuck)] == "error"
    assert outcomes[str(other)] == "insufficient_data"
    assert RegressionState.objects.get(policy=other).window_count == 10
    assert lock["held_throughout"]
