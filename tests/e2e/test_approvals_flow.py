"""Four-eyes in a real browser: one operator requests releasing the kill switch, a second approves
and applies it, and production is released."""

import pytest
from django.contrib.auth.models import Group
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from golive import services as golive
from governance_site import roles

pytestmark = pytest.mark.django_db(transaction=True)


def message(browser, text: str) -> str:
    """Waits for the next page's message containing `text` (the old page may still be showing)."""
    ignored = (NoSuchElementException, StaleElementReferenceException)
    wait = WebDriverWait(browser.driver, 10, ignored_exceptions=ignored)
    return wait.until(lambda driver: text in (m := driver.find_element(By.CSS_SELECTOR, ".messagelist").text) and m)


@pytest.fixture
def second_operator(django_user_model):
    user = django_user_model.objects.create_user(username="op2", password="pw-op2", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.OPERATOR))
    return user


def test_four_eyes__request_then_second_operator_approves_and_applies__kill_switch_released(
    browser, settings, operator, second_operator
):
    settings.GOVERNANCE_APPROVALS_REQUIRED = True
    golive.set_kill_switch(engaged=True, reason="e2e: routing misbehaving", actor="tests/setup")

    browser.login("op", "pw-op")
    browser.open("/admin/golive/golivestate/")
    assert "KILL SWITCH ENGAGED" in browser.find("#golive-status").text
    browser.find("#action-release-kill-switch").click()
    reason = browser.find("#request-change textarea[name=reason]")
    reason.send_keys("e2e: routing fixed, verified on staging")
    browser.screenshot("request-form")
    browser.find("#request-change input[type=submit]").click()
    message(browser, "takes effect once another operator approves it")
    assert "kill_switch_engaged" in browser.find("#change-diff").text
    browser.screenshot("requested")
    assert golive.get_state().kill_switch_engaged

    browser.login("op2", "pw-op2")
    browser.open("/admin/approvals/changerequest/?state=pending")
    queue = browser.find("#result_list").text
    assert "Release the kill switch" in queue and "e2e: routing fixed" in queue and "op" in queue
    browser.screenshot("pending-queue")
    browser.find("#result_list tbody tr a").click()
    browser.find("#change-steps textarea[name=note]").send_keys("e2e: checked the fix with op")
    browser.find("#change-steps input[name=approve]").click()
    message(browser, "approved")
    assert "op2" in browser.find("#change-approvals").text
    browser.screenshot("approved")
    browser.find("#change-steps input[name=apply]").click()
    message(browser, "applied")
    browser.screenshot("applied")

    browser.open("/admin/golive/golivestate/")
    assert "GO-LIVE OFF" in browser.find("#golive-status").text
    browser.screenshot("kill-switch-released")
    assert not golive.get_state().kill_switch_engaged
