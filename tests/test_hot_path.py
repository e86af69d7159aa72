"""What each hot endpoint asks the database, pinned, as an engine calls it all day: its token
already verified (remembered by governance_site.authentication), outside any test transaction.
A change that adds a round trip to one of them fails here. Each count is every statement the
request sends, a transaction's BEGIN and COMMIT included."""

from decimal import Decimal

import pytest
from django.db import connection

from golive import services as golive
from regression.models import KpiEvent
from risk import services as risk
from risk.models import DailyTotals, Reservation
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db(transaction=True)

GOV = "/api/governance"
UNLIMITED = {"enabled": True, "max_daily_loss": "1e9", "max_open_exposure": "1e9", "max_daily_actions": 10**6}


@pytest.fixture
def engine_api(api, engine):
    golive.set_go_live(enabled=True, reason="test: production on", actor="tests/setup")
    risk.upsert_policy(domain="WHOLESALE", changes=UNLIMITED, actor="tests/setup")
    client = api(engine)
    reserved = client.post(f"{GOV}/risk/reserve", {"domain": "WHOLESALE", "amount": "1"}, format="json")
    assert reserved.json()["ok"]  # the token is remembered and today's totals row exists
    return client


def test_go_live_check__one_query(engine_api, django_assert_num_queries):
    with django_assert_num_queries(1):  # the state row joined with the kills covering it and the heartbeat
        assert engine_api.get(f"{GOV}/go-live/check").status_code == 204


def test_reserve__seven_statements(engine_api, django_assert_num_queries):
    # BEGIN, the policy lock, the go-live decision, today's totals locked (read with the domain's
    # open exposure and whether a firm-wide cap is set), the entry, the totals, COMMIT
    with django_assert_num_queries(7):
        response = engine_api.post(f"{GOV}/risk/reserve", {"domain": "WHOLESALE", "amount": "10"}, format="json")
    assert response.json()["ok"]


def test_reserve__firm_cap_set__its_row_locked_and_exposure_summed(engine_api, django_assert_num_queries):
    risk.upsert_firm_policy(changes={"max_open_exposure": "1e9"}, actor="tests/setup")
    # the seven, and the firm row locked, all domains' open exposure summed
    with django_assert_num_queries(9):
        response = engine_api.post(f"{GOV}/risk/reserve", {"domain": "WHOLESALE", "amount": "10"}, format="json")
    assert response.json()["ok"]


@pytest.mark.parametrize("pnl", ["0", "-3.5"])
def test_settle__six_statements_with_or_without_a_pnl(engine_api, django_assert_num_queries, pnl):
    entry = Reservation.objects.latest("pk")
    # BEGIN, the policy lock (found from the entry), the entry locked, the entry, the day's totals
    # (exposure freed and, reserved today, the pnl booked in the same update), COMMIT
    with django_assert_num_queries(6):
        response = engine_api.post(
            f"{GOV}/risk/settle", {"reservation_id": entry.pk, "realized_pnl": pnl}, format="json"
        )
    assert response.json()["status"] == "SETTLED"
    totals = DailyTotals.objects.get(domain="WHOLESALE", business_date=entry.business_date)
    assert totals.realized_pnl == Decimal(pnl)


def test_kpi__one_insert(engine_api, django_assert_num_queries):
    # BEGIN, the insert (taking the ingest fence on PostgreSQL in the same statement), the pair's
    # tripwire states waiting for an evaluation (none enabled here: nothing to mark), COMMIT; the
    # pair's tripwire (is the event watched?)
    with django_assert_num_queries(5):
        response = engine_api.post(
            f"{GOV}/regression/kpi", {"domain": "WHOLESALE", "metric": "m", "success": True}, format="json"
        )
    assert response.status_code == 201
    assert response.json()["id"] == KpiEvent.objects.get().pk


@requires_postgres  # elsewhere bulk_create splits by the engine's parameter limit
def test_kpi_batch__fence_then_copy(engine_api, django_assert_num_queries):
    events = [{"domain": "WHOLESALE", "metric": "m", "success": i % 2 == 0} for i in range(2500)]
    # BEGIN, the ingest fence (then COPY, which is no counted statement), the states waiting for an
    # evaluation, COMMIT; the tripwires
    with django_assert_num_queries(5):
        response = engine_api.post(f"{GOV}/regression/kpi/batch", events, format="json")
    assert response.json()["created"] == 2500
    assert KpiEvent.objects.count() == 2500


@requires_postgres
def test_kpi_batch_with_event_ids__look_up_then_insert(engine_api, django_assert_num_queries):
    events = [{"domain": "WHOLESALE", "metric": "m", "success": True, "event_id": f"e{i}"} for i in range(100)]
    # BEGIN, the stored ids, the insert (with its fence) skipping conflicts and returning what it
    # stored (with no race, nothing more to look up), the states waiting for an evaluation, COMMIT;
    # the tripwires
    with django_assert_num_queries(6):
        response = engine_api.post(f"{GOV}/regression/kpi/batch", events, format="json")
    assert response.json()["created"] == 100


@requires_postgres  # the health check is PostgreSQL's backend's (governance_site.database)
def test_kept_connection__answered_within_the_idle_bound__reused_without_a_health_check(settings, monkeypatch):
    checks = []
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append("SELECT 1") or True)
    KpiEvent.objects.exists()  # the server answers now
    connection.health_check_done = False  # as at the start of a request
    connection.close_if_health_check_failed()
    assert checks == []
    settings.DATABASE_HEALTH_CHECK_IDLE_MS = 0  # every reuse checked, Django's own way
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert checks == ["SELECT 1"]
