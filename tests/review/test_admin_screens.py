"""Screens that never contradict: danger in red, one name per thing, money with its currency, the
schedules under one entry, and a tripwire's own Evaluate now / Reset buttons."""

import io

import pytest
from django.core.management import call_command

from golive import services as golive
from governance_site.audit.models import AuditEvent
from regression.models import RegressionState
from tests.conftest import acknowledged

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(operator):
    call_command("demo", stdout=io.StringIO())
    return RegressionState.objects.get(policy__domain="WHOLESALE", policy__metric="contract_rate")


def page(client, user, path: str) -> str:
    client.force_login(user)
    response = client.get(path, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_app_list__schedules_one_entry_and_tripwires_by_that_name(client, operator):
    html = page(client, operator, "/admin/")
    assert html.count(">Schedules<") >= 1
    for raw in ("Clocked", "Crontabs", "Intervals", "Solar events", "Periodic tasks"):
        assert f">{raw}</a>" not in html, raw
    assert ">Tripwires</a>" in html and ">Tripwire policies</a>" in html
    assert "Regression states" not in html


def test_production_state__kill_switch_engaged_in_red_without_a_green_check(client, operator):
    golive.set_kill_switch(engaged=True, reason="test: stop", actor=operator)
    html = page(client, operator, "/admin/golive/golivestate/")
    assert '<strong style="color:#b00020">ENGAGED</strong>' in html
    assert "icon-yes" not in html


def test_review_banner__reason_code_in_words(client, operator, demo):
    html = page(client, operator, "/admin/")
    assert "production execution refused: the kill switch is engaged (<code>kill_switch</code>)" in html


def test_ledger_and_policies__money_with_its_currency(client, operator, demo):
    ledger = page(client, operator, "/admin/risk/reservation/")
    assert "12,500.00 USD" in ledger and "830.00 USD" in ledger
    policies = page(client, operator, "/admin/risk/riskpolicy/")
    assert "50,000.00 USD" in policies


def test_tripwire_page__evaluate_now_and_reset_buttons_for_operators(client, operator, viewer, demo):
    path = f"/admin/regression/regressionstate/{demo.pk}/change/"
    html = page(client, operator, path)
    assert 'id="tripwire-evaluate"' in html and 'id="tripwire-reset"' in html
    assert 'id="tripwire-evaluate"' not in page(client, viewer, path)
    client.force_login(viewer)
    assert client.post(f"/admin/regression/regressionstate/{demo.pk}/evaluate/").status_code == 403

    client.force_login(operator)
    response = client.post(f"/admin/regression/regressionstate/{demo.pk}/evaluate/", follow=True)
    assert "Evaluated: WHOLESALE.contract_rate." in response.content.decode()
    acknowledged(demo)  # a reset needs the trigger acknowledged (tests/alerts)
    confirm = client.get(f"/admin/regression/regressionstate/{demo.pk}/reset/").content.decode()
    assert "Reset tripwires?" in confirm
    response = client.post(
        f"/admin/regression/regressionstate/{demo.pk}/reset/", {"apply": "1", "reason": "test: fixed"}, follow=True
    )
    assert "Reset: WHOLESALE.contract_rate." in response.content.decode()
    demo.refresh_from_db()
    assert not demo.triggered
    assert AuditEvent.objects.filter(action="tripwire.reset", reason="test: fixed").count() == 1


def test_history_button__the_audit_trail_of_that_object_by_any_path(client, operator, api, demo):
    from risk.models import RiskPolicy

    policy = RiskPolicy.objects.get(domain="WHOLESALE")  # created by the demo, throttled by its tripwire
    api(operator).post(
        "/api/governance/risk/policies/upsert",
        {"domain": "WHOLESALE", "max_daily_actions": 700, "reason": "via the API"},
        format="json",
    )
    client.force_login(operator)
    response = client.get(f"/admin/risk/riskpolicy/{policy.pk}/history/", follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0].startswith("/admin/audit/auditevent/?object_type=risk.riskpolicy")
    expected = AuditEvent.objects.filter(object_type="risk.riskpolicy", object_id=str(policy.pk))
    assert expected.count() == 3  # created by the demo, throttled by the tripwire, changed through the API
    for event in expected:
        assert f"/admin/audit/auditevent/{event.pk}/change/" in html
    assert "via the API" in html and "Regression: WHOLESALE.contract_rate dropped" in html
    assert "3 audit events" in html or "3 results" in html
