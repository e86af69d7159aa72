"""After the guided demo, an operator reviews the control plane, reads a tripwire's chart, resets it,
and tunes its policy, in a real browser."""

import io

import pytest
from django.core.management import call_command
from selenium.webdriver.support.ui import Select

from regression.models import RegressionState

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(operator):
    call_command("demo", stdout=io.StringIO())
    return RegressionState.objects.get(policy__domain="WHOLESALE", policy__metric="contract_rate")


def test_review__after_the_demo__triggered_tripwires_kill_switch_and_denials(browser, demo):
    browser.login("op", "pw-op")
    assert "KILL SWITCH ENGAGED" in browser.find("#review-golive").text
    tripwires = browser.find("#review-tripwires").text
    assert "WHOLESALE.contract_rate" in tripwires and "CAPITAL.roi_event" in tripwires
    assert "policy_disabled: 1" in browser.find("#review-risk").text
    browser.screenshot("control-plane-review")


def test_tripwire__chart_acknowledge_then_reset_with_a_reason__status_changes(browser, demo):
    browser.login("op", "pw-op")
    browser.find(f"#review-tripwires a[href$='/{demo.pk}/change/']").click()
    browser.screenshot("tripwire-chart")
    chart = browser.find("#tripwire-chart svg").get_attribute("outerHTML")
    for label in ("baseline 95.0%", "window 75.0%", "threshold 76.0%", "triggered "):
        assert label in chart
    assert "Triggered" in browser.find("#tripwire-summary").text

    browser.open("/admin/")  # the review: acknowledge the trigger first (a reset needs it)
    link = browser.find(f"#review-tripwires a[href$='/{demo.pk}/change/']")
    link.find_element("xpath", "ancestor::tr").find_element("css selector", "a[href*='/acknowledge/']").click()
    note = browser.find("textarea[name=note]")
    assert "Tripwire WHOLESALE.contract_rate triggered" in browser.find("#alerts-to-acknowledge").text
    note.send_keys("e2e: looking at the contract flow")
    browser.screenshot("acknowledge")
    browser.find("input[name=apply]").click()
    assert "Acknowledged: #" in browser.find(".messagelist").text

    browser.open("/admin/regression/regressionstate/")
    browser.find(f"input[name=_selected_action][value='{demo.pk}']").click()
    Select(browser.find("select[name=action]")).select_by_value("reset_tripwires")
    browser.find("button[name=index]").click()
    reason = browser.find("textarea[name=reason]")  # waits for the confirmation page
    assert "Reset tripwires?" in browser.text()
    reason.send_keys("e2e: contract flow fixed")
    browser.screenshot("reset-confirmation")
    browser.find("input[name=apply]").click()
    messages = browser.find(".messagelist").text
    assert "Reset: WHOLESALE.contract_rate." in messages
    assert "WHOLESALE.contract_rate still breaches" in messages  # the window still shows the drop
    row = browser.find(f"input[name=_selected_action][value='{demo.pk}']").find_element("xpath", "ancestor::tr")
    assert "BREACHING" in row.text.upper() and "TRIGGERED" not in row.text.upper()
    browser.screenshot("tripwire-reset")


def test_policy__edit_max_drop_with_a_reason__shown_in_the_audit_trail(browser, demo):
    browser.login("op", "pw-op")
    browser.open(f"/admin/regression/regressionpolicy/{demo.policy_id}/change/")
    field = browser.find("input[name=max_drop_fraction]")
    field.clear()
    field.send_keys("0.3")
    browser.find("textarea[name=reason]").send_keys("e2e: contract rate is seasonal")
    browser.screenshot("policy-edit")
    browser.find("input[name=_save]").click()
    assert "was changed successfully" in browser.find(".messagelist").text
    browser.open("/admin/audit/auditevent/?action=policy.update")
    first = browser.find("#result_list tbody tr")
    assert "op" in first.text and "WHOLESALE.contract_rate" in first.text
    first.find_element("css selector", "a").click()
    event = browser.find("#auditevent_form").text
    browser.screenshot("audit-event")
    assert "e2e: contract rate is seasonal" in event
    assert "max_drop_fraction: 0.2 → 0.3" in event and "changed_by: demo/walkthrough → op" in event
