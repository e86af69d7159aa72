"""The control-plane review (API and admin landing page) and the guided demo that fills it."""

import io

import pytest
from django.core.management import call_command

from golive import services as golive
from regression.models import RegressionState
from risk.models import RiskPolicy

pytestmark = pytest.mark.django_db

REVIEW = "/api/governance/review"


@pytest.fixture
def walkthrough():
    out = io.StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def test_demo__prints_each_step_and_leaves_throttle_and_kill_switch(walkthrough):
    assert "baseline 95.0%, current 75.0%, drop 21.1% > 20% → status triggered, action THROTTLE" in walkthrough
    assert "reserve 9,000 → DENIED, reason policy_disabled" in walkthrough
    assert "action KILL_SWITCH" in walkthrough
    assert "may production execute? no (kill_switch)" in walkthrough
    assert "/admin/regression/regressionstate/" in walkthrough
    assert RiskPolicy.objects.get(domain="WHOLESALE").enabled is False
    state = golive.get_state()
    assert state.kill_switch_engaged and not state.go_live_enabled
    assert set(RegressionState.objects.filter(triggered=True).values_list("policy__metric", flat=True)) == {
        "contract_rate",
        "roi_event",
    }


def test_demo__run_twice__starts_over_and_ends_the_same(walkthrough):
    again = io.StringIO()
    call_command("demo", stdout=again)
    assert "drop 21.1% > 20% → status triggered, action THROTTLE" in again.getvalue()
    assert golive.get_state().kill_switch_engaged
    assert RegressionState.objects.filter(triggered=True).count() == 2


def test_review_api__after_demo__what_broke_denied_drifted(api, viewer, walkthrough):
    response = api(viewer).get(REVIEW)
    assert response.status_code == 200
    review = response.json()
    assert review["go_live"]["kill_switch_engaged"] is True
    assert review["go_live"]["blocked_reason"] == "kill_switch"
    assert review["go_live"]["changed_by"] == "demo/walkthrough"
    assert review["go_live"]["reason"].startswith("Regression: CAPITAL.roi_event dropped")
    wholesale = next(d for d in review["risk_ledger"] if d["domain"] == "WHOLESALE")
    assert wholesale["denial_count_by_reason"] == {"policy_disabled": 1}
    tripwires = {(t["domain"], t["metric"]): t for t in review["triggered_tripwires"]}
    contract = tripwires[("WHOLESALE", "contract_rate")]
    assert (contract["baseline_rate"], contract["current_rate"], contract["action_taken"]) == (0.95, 0.75, "THROTTLE")
    assert contract["drop_fraction"] == pytest.approx(0.2105, abs=1e-4)
    assert tripwires[("CAPITAL", "roi_event")]["action_taken"] == "KILL_SWITCH"
    assert [row["domain"] for row in review["heimdall_scorecard"]] == ["WHOLESALE"]
    assert review["recent_audit"][0]["action"] == "tripwire.trigger"
    assert len(review["recent_audit"]) == 10  # every change the demo made, newest first


def test_review_api__fresh_install__empty_sections(api, viewer):
    review = api(viewer).get(REVIEW).json()
    assert review["go_live"]["blocked_reason"] == "go_live_disabled"
    assert review["risk_ledger"] == [] and review["triggered_tripwires"] == []


@pytest.mark.parametrize(("query", "status"), [("date=2026-02-30", 400), ("date=2999-01-01", 400)])
def test_review_api__bad_date__400_naming_date(api, viewer, query, status):
    response = api(viewer).get(f"{REVIEW}?{query}")
    assert response.status_code == status
    assert response.json()["field"] == "date"


def test_review_api__anonymous_401_no_role_403(api, nobody):
    assert api(None).get(REVIEW).status_code == 401
    assert api(nobody).get(REVIEW).status_code == 403


def test_admin_landing_page__is_the_review_with_links(client, operator, walkthrough):
    client.force_login(operator)
    page = client.get("/admin/").content.decode()
    assert 'id="control-plane-review"' in page
    assert "KILL SWITCH ENGAGED" in page
    assert "WHOLESALE.contract_rate" in page and "21.1%" in page
    assert "policy_disabled</code>: 1" in page
    for link in (
        "/admin/golive/golivestate/",
        "/admin/regression/regressionstate/",
        "/admin/risk/reservation/?domain=WHOLESALE",
        "/admin/heimdall/heimdallpolicy/scorecard/",
        "/admin/audit/auditevent/",
    ):
        assert link in page, link


@pytest.mark.parametrize(
    "path", [REVIEW, "/api/governance/risk/ledger/today", "/api/governance/heimdall/scorecard/today"]
)
@pytest.mark.parametrize("date", ["2999-01-01", "0001-01-01", "2024-02-30"])
def test_business_day_query__after_today_or_ancient_or_impossible__400_naming_date(api, viewer, path, date):
    response = api(viewer).get(path, {"date": date})
    assert response.status_code == 400
    assert response.json()["field"] == "date"


@pytest.mark.parametrize("date", ["2024-02-30", "0001-01-01", "nonsense"])
def test_scorecard_admin_page__bad_date__today_not_500(client, operator, date):
    client.force_login(operator)
    assert client.get("/admin/heimdall/heimdallpolicy/scorecard/", {"date": date}).status_code == 200


def test_admin_landing_page__staff_without_a_governance_role__no_review(client, django_user_model, walkthrough):
    staff = django_user_model.objects.create_user(username="staff-only", password="pw", is_staff=True)
    client.force_login(staff)
    response = client.get("/admin/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="control-plane-review"' not in page
    assert "KILL SWITCH" not in page and "WHOLESALE" not in page
    assert "no governance role" in page
