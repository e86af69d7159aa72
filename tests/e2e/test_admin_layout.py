"""The admin fits the screen: at 1366 px every list shows its key columns without sideways
scrolling; on a 414 px phone the review reads without a word broken mid-token."""

import io

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)

# Each list and the columns an operator must see on it without scrolling sideways.
KEY_COLUMNS = {
    "audit-trail": ("/admin/audit/auditevent/", ["created_at", "actor", "action", "reason"]),
    "tripwires": ("/admin/regression/regressionstate/", ["policy", "coloured_status", "action_taken", "triggered_at"]),
    "ledger": ("/admin/risk/reservation/", ["domain", "amount_money", "status_label", "reason", "ref", "actor"]),
    "risk-policies": ("/admin/risk/riskpolicy/", ["domain", "enabled_label", "loss_today", "today_link"]),
    "kpi-events": ("/admin/regression/kpievent/", ["occurred_at", "domain", "metric", "actor"]),
    "tripwire-policies": ("/admin/regression/regressionpolicy/", ["__str__", "enabled", "max_drop_fraction", "action"]),
}

FITS = "return document.documentElement.scrollWidth <= window.innerWidth;"
# A column is visible when it ends inside the list's own box (which scrolls sideways when too narrow).
RIGHT_EDGE = """
const box = document.querySelector('#changelist .results').getBoundingClientRect();
return Math.ceil(arguments[0].getBoundingClientRect().right) <= Math.min(box.right, window.innerWidth);
"""


@pytest.fixture
def demo(operator):
    call_command("demo", stdout=io.StringIO())


def viewport(browser, width: int, height: int = 900):
    """Resize so that the page's own viewport (innerWidth) is `width`."""
    browser.driver.set_window_size(width, height)
    inner = browser.driver.execute_script("return window.innerWidth;")
    browser.driver.set_window_size(2 * width - inner, height)


@pytest.mark.parametrize("name", KEY_COLUMNS)
def test_list_at_1366_px__key_columns_visible_without_scrolling_sideways(browser, demo, name):
    path, columns = KEY_COLUMNS[name]
    browser.login("op", "pw-op")
    viewport(browser, 1366)
    try:
        browser.open(path)
        browser.find("#result_list")
        browser.screenshot(f"{name}-1366px")
        for column in columns:
            header = browser.find(f"#result_list th.column-{column}")
            assert browser.driver.execute_script(RIGHT_EDGE, header), f"{name}: {column} is off screen"
        assert browser.driver.execute_script(FITS), f"{name} scrolls sideways at 1366 px"
    finally:
        browser.driver.set_window_size(1400, 1000)


def test_review_on_a_414_px_phone__no_sideways_page_and_no_word_broken(browser, demo):
    browser.login("op", "pw-op")
    viewport(browser, 414, 900)
    try:
        browser.open("/admin/")
        browser.find("#control-plane-review")
        browser.screenshot("review-414px")
        browser.scroll_to(browser.find("#review-risk"))
        browser.screenshot("review-414px-ledger")
        assert browser.driver.execute_script(FITS), "the review page scrolls sideways on a phone"
        broken = browser.driver.execute_script(
            """
            const bad = [];
            for (const el of document.querySelectorAll('#control-plane-review *')) {
              const style = getComputedStyle(el);
              if (['break-all', 'break-word'].includes(style.wordBreak)
                  || ['anywhere', 'break-word'].includes(style.overflowWrap)) {
                const text = el.textContent.trim();
                if (el.children.length === 0 && text) bad.push(el.tagName + ': ' + text);
              }
            }
            return bad;
            """
        )
        assert broken == [], broken[:5]
        split = browser.driver.execute_script(
            """
            return [...document.querySelectorAll('#control-plane-review .token, #control-plane-review code')]
              .filter(el => el.getClientRects().length > 1).map(el => el.textContent);
            """
        )
        assert split == [], f"dates or codes split over two lines: {split[:5]}"
    finally:
        browser.driver.set_window_size(1400, 1000)
