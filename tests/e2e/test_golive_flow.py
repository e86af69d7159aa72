"""An operator stops production from the admin, sees a PROD_EXEC request refused, and recovers."""

import urllib.error
import urllib.request

import pytest

from golive import services

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(url: str, method: str = "GET", headers: dict | None = None) -> int:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_operator__engages_and_releases_kill_switch__prod_exec_refused_then_allowed(
    browser, live_server, operator, settings
):
    services.set_go_live(enabled=True, reason="e2e: production on", actor=operator)
    settings.ROOT_URLCONF = "tests.golive.urls"
    offer = live_server.url + "/engine/place-offer"
    assert status_of(offer, "POST") == 200

    browser.login("op", "pw-op")
    assert "Control-plane review" in browser.text()
    browser.open("/admin/golive/golivestate/")
    assert "LIVE" in browser.find("#golive-status").text
    browser.screenshot("state-live")

    browser.find("#action-engage-kill-switch").click()
    assert "Engage the kill switch?" in browser.text()
    browser.find("textarea[name=reason]").send_keys("e2e: capital routing misbehaving")
    browser.screenshot("kill-switch-confirmation")
    browser.find("input[type=submit]").click()

    assert "KILL SWITCH ENGAGED" in browser.find("#golive-status").text
    assert "e2e: capital routing misbehaving" in browser.find("#golive-status").text
    browser.screenshot("kill-switch-engaged")
    assert status_of(offer, "POST") == 423
    assert status_of(live_server.url + "/engine/offers", headers={"X-Execution-Class": "PROD_EXEC"}) == 423

    browser.find("#action-release-kill-switch").click()
    browser.find("textarea[name=reason]").send_keys("e2e: fixed")
    browser.find("input[type=submit]").click()
    assert "GO-LIVE OFF" in browser.find("#golive-status").text
    assert status_of(offer, "POST") == 423  # released, but go-live stays off until enabled

    browser.find("#action-enable-go-live").click()
    browser.find("textarea[name=reason]").send_keys("e2e: back to business")
    browser.find("input[type=submit]").click()
    assert "LIVE" in browser.find("#golive-status").text
    browser.screenshot("live-again")
    assert status_of(offer, "POST") == 200
