import pytest
from django.db import connection

from governance_site.admin_tools import EstimatedCountPaginator
from regression.models import KpiEvent
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db


class EstimateAnything(EstimatedCountPaginator):
    estimate_above = 0


@pytest.fixture
def events():
    KpiEvent.objects.bulk_create(
        KpiEvent(domain="WHOLESALE", metric="contract_rate", success=i % 2 == 0, actor="t") for i in range(30)
    )


@requires_postgres
def test_paginator__unfiltered_big_table_on_postgresql__takes_the_planner_estimate(events):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE regression_kpievent")
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'regression_kpievent'::regclass")
        estimate = cursor.fetchone()[0]
    paginator = EstimateAnything(KpiEvent.objects.order_by("-id"), 10)
    assert paginator.count == estimate
    assert paginator.num_pages == -(-estimate // 10)


def test_paginator__filtered__counts_exactly(events):
    paginator = EstimateAnything(KpiEvent.objects.filter(success=True).order_by("-id"), 10)
    assert paginator.count == 15


def test_paginator__small_table__counts_exactly(events):
    assert EstimatedCountPaginator(KpiEvent.objects.order_by("-id"), 10).count == 30


def test_kpi_admin__search_by_event_id_and_filter_by_domain(client, operator):
    KpiEvent.objects.create(domain="WHOLESALE", metric="contract_rate", success=True, actor="t", event_id="ev-1")
    KpiEvent.objects.create(domain="CAPITAL", metric="roi_event", value=0.1, actor="t", event_id="ev-2")
    client.force_login(operator)
    assert b"ev-1" in client.get("/admin/regression/kpievent/", {"q": "ev-1"}).content
    assert b"ev-2" not in client.get("/admin/regression/kpievent/", {"q": "ev-1"}).content
