"""The Monday review in a real browser: the week with previous/next, trends, links whose counts
agree, what nobody watches, and the sign-off that makes the next review start where it ended."""

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command

from governance_site.business_day import business_date
from regression import services as regression
from review.models import ReviewSignOff
from risk.models import Reservation, Status
from tests.conftest import acknowledged

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(operator):
    call_command("demo", stdout=io.StringIO())


def days_ago(n: int) -> dt.date:
    return business_date() - dt.timedelta(days=n)


def old_denial(days: int, reason: str = "max_daily_loss") -> Reservation:
    return Reservation.objects.create(
        domain="WHOLESALE", amount=Decimal(900), status=Status.DENIED, reason=reason, actor="engine",
        business_date=days_ago(days),
    )  # fmt: skip


def result_count(browser) -> int:
    """The number of rows the admin list says it holds ("3 ledger entries")."""
    return int(re.search(r"(\d+) (?:result|ledger entr|audit event|KPI event)", browser.find("#changelist").text)[1])


def test_week_review__previous_next_and_trends__counts_agree_with_the_lists(browser, demo):
    old_denial(3)
    old_denial(10, "max_open_exposure")  # the week before: only on the previous page
    browser.login("op", "pw-op")
    period = browser.find("#review-period").text
    assert f"{days_ago(6):%Y-%m-%d}" in period and f"{days_ago(0):%Y-%m-%d}" in period and "7 days" in period
    risk = browser.find("#review-risk").text
    assert "policy_disabled: 1" in risk and "max_daily_loss: 1" in risk and "max_open_exposure" not in risk
    charts = browser.driver.find_elements("css selector", "#review-trends svg")
    assert len(charts) >= 4
    titles = " ".join(chart.get_attribute("outerHTML") for chart in charts)
    for title in ("WHOLESALE: approvals and denials per day", "WHOLESALE.contract_rate per day",
                  "WHOLESALE: realized P&amp;L per day", "WHOLESALE: Heimdall success rate per day"):  # fmt: skip
        assert title in titles, title
    browser.screenshot("week-review")
    browser.scroll_to(browser.find("#review-trends"))
    browser.screenshot("week-review-trends")

    # The denials link opens the ledger filtered to the same domain and days: the same count.
    denied = browser.find("#review-risk a.denied-link")
    assert denied.text == "2"
    denied.click()
    assert result_count(browser) == 2
    browser.screenshot("denials-for-the-week")
    browser.driver.back()
    audit = browser.find("#review-audit-count")
    shown = int(audit.text.split()[0])
    audit.click()
    assert result_count(browser) == shown
    browser.driver.back()

    browser.find("#period-previous").click()
    period = browser.find("#review-period").text
    assert f"{days_ago(13):%Y-%m-%d}" in period and f"{days_ago(7):%Y-%m-%d}" in period
    risk = browser.find("#review-risk").text
    assert "max_open_exposure: 1" in risk and "policy_disabled" not in risk
    browser.screenshot("previous-week")
    browser.find("#period-next").click()
    assert f"{days_ago(0):%Y-%m-%d}" in browser.find("#review-period").text
    assert not browser.driver.find_elements("css selector", "#period-next")  # nothing after today


def test_unwatched__a_typo_metric__listed_with_count_and_engine(browser, demo, operator):
    now = dt.datetime.now(dt.UTC)
    regression.record_kpi_batch(
        events=[{"domain": "WHOLESALE", "metric": "contrat_rate", "success": True,
                 "occurred_at": now - dt.timedelta(seconds=i)} for i in range(4)],
        actor="offer-engine",
    )  # fmt: skip
    browser.login("op", "pw-op")
    row = browser.find("#review-unwatched-kpis tbody tr")
    assert "WHOLESALE.contrat_rate" in row.text and "offer-engine" in row.text and " 4 " in f" {row.text} "
    browser.scroll_to(browser.find("#unwatched"))
    browser.screenshot("unwatched")
    row.find_element("css selector", "a").click()
    assert result_count(browser) == 4


def test_sign_off__with_a_note__history_and_the_next_review_starts_there(browser, demo):
    browser.login("op", "pw-op")
    browser.open(f"/admin/?since={days_ago(9):%Y-%m-%d}&until={days_ago(2):%Y-%m-%d}")
    form = browser.find("#review-sign-off")
    form.find_element("css selector", "textarea[name=note]").send_keys("e2e: throttle explained, ROI under watch")
    browser.scroll_to(form)
    browser.screenshot("sign-off")
    form.find_element("css selector", "input[type=submit]").click()
    assert "signed off by op" in browser.find(".messagelist").text
    signed = ReviewSignOff.objects.get()
    assert (signed.since, signed.until, signed.signed_by) == (days_ago(9), days_ago(2), "op")
    period = browser.find("#review-period").text
    assert f"{days_ago(2):%Y-%m-%d}" in period and "signed off by op" in period  # starts where it ended
    browser.find("#review-history").click()
    assert "e2e: throttle explained, ROI under watch" in browser.find("#result_list").text
    browser.screenshot("review-history")
    browser.open("/admin/audit/auditevent/?action=review.sign_off")
    assert "op" in browser.find("#result_list tbody tr").text


def test_tripwire_page__reset_while_the_window_still_breaches__warned_not_ok(browser, demo):
    from regression.models import RegressionState

    state = acknowledged(RegressionState.objects.get(policy__domain="WHOLESALE", policy__metric="contract_rate"))
    browser.login("op", "pw-op")
    browser.open(f"/admin/regression/regressionstate/{state.pk}/change/")
    browser.find("#tripwire-reset").click()
    browser.find("textarea[name=reason]").send_keys("e2e: offer model retrained")
    browser.click_to_load("input[name=apply]")
    messages = browser.find(".messagelist").text
    assert "Reset: WHOLESALE.contract_rate." in messages
    assert "WHOLESALE.contract_rate still breaches" in messages and "triggers again" in messages
    assert "Breaching" in browser.find("#tripwire-summary").text and "Ok" not in browser.find("#tripwire-summary").text
    browser.screenshot("reset-warning")
    browser.click_to_load("#tripwire-evaluate")  # a new epoch: it relearns from events after the reset
    assert "Relearning" in browser.find("#tripwire-summary").text


def test_history_button__shows_the_audit_trail_of_that_policy(browser, demo):
    from risk.models import RiskPolicy

    policy = RiskPolicy.objects.get(domain="WHOLESALE")
    browser.login("op", "pw-op")
    browser.open(f"/admin/risk/riskpolicy/{policy.pk}/change/")
    browser.find("a.historylink").click()
    rows = browser.find("#result_list").text
    assert "Demo: caps" in rows and "Regression: WHOLESALE.contract_rate dropped" in rows  # admin log had neither
    assert "CAPITAL" not in rows
    browser.screenshot("policy-history")
