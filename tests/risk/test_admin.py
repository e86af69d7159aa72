import pytest

from governance_site.audit.models import AuditEvent
from risk import reasons, services
from risk.models import Reservation, RiskPolicy

pytestmark = pytest.mark.django_db

POLICIES = "/admin/risk/riskpolicy/"
LEDGER = "/admin/risk/reservation/"


@pytest.fixture
def busy_day(live, make_policy):
    """WHOLESALE: 3 of 4 actions used, 300 of 1000 exposure open, 50 of 100 loss; one denial."""
    policy = make_policy(max_daily_actions=4, max_open_exposure="1000", max_daily_loss="100")
    reserve = lambda amount: services.reserve(domain="WHOLESALE", amount=amount, actor="engine/test")  # noqa: E731
    services.settle(reservation_id=reserve("100").pk, realized_pnl="-50", actor="engine/test")
    reserve("100"), reserve("200")
    services.reserve(domain="WHOLESALE", amount="5000", actor="engine/test")
    return policy


def test_policy_list__operator__usage_of_each_cap_today(client, operator, busy_day):
    client.force_login(operator)
    response = client.get(POLICIES)
    assert response.status_code == 200
    content = response.content.decode()
    for shown, share in (("3 / 4", "75%"), ("300.00 USD / 1,000.00 USD", "30%"), ("50.00 USD / 100.00 USD", "50%")):
        assert f"<title>{shown}</title>" in content and f">{share}</text></svg> {shown}" in content
    assert "ENABLED" in content


def test_policy_add__through_the_service__upper_cased_and_audited_with_reason(client, operator):
    client.force_login(operator)
    body = {
        "domain": "buyer_match", "enabled": "on", "max_daily_loss": "10", "max_open_exposure": "20",
        "max_daily_actions": "3", "max_action_amount": "", "reservation_ttl_seconds": "600",
        "reason": "new engine",
    }  # fmt: skip
    response = client.post(f"{POLICIES}add/", body)
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy = RiskPolicy.objects.get()
    assert (policy.domain, policy.max_daily_actions, policy.reservation_ttl_seconds, policy.changed_by) == (
        "BUYER_MATCH",
        3,
        600,
        "op",
    )
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.lever, event.reason) == ("policy.create", "op", "risk", "new engine")


def test_policy_change__only_changed_fields__audited(client, operator, make_policy):
    policy = make_policy(max_daily_actions=5)
    client.force_login(operator)
    body = {
        "enabled": "on", "max_daily_loss": "1000", "max_open_exposure": "5000", "max_daily_actions": "7",
        "max_action_amount": "", "reservation_ttl_seconds": "900", "reason": "more room",
    }  # fmt: skip
    assert client.post(f"{POLICIES}{policy.pk}/change/", body).status_code == 302
    event = AuditEvent.objects.filter(action="policy.update").get()
    assert (event.before["max_daily_actions"], event.after["max_daily_actions"], event.reason) == (5, 7, "more room")


def test_policy_change__without_reason__refused_and_unchanged(client, operator, make_policy):
    policy = make_policy(max_daily_actions=5)
    client.force_login(operator)
    response = client.post(f"{POLICIES}{policy.pk}/change/", {"max_daily_actions": "7", "reason": ""})
    assert response.status_code == 200
    assert RiskPolicy.objects.get().max_daily_actions == 5


def test_disable_action__asks_for_reason_then_disables_and_audits(client, operator, make_policy):
    policy = make_policy()
    client.force_login(operator)
    ask = client.post(POLICIES, {"action": "disable_policies", "_selected_action": [policy.pk]})
    assert ask.status_code == 200
    assert b"Disable the risk policy of" in ask.content and b'name="reason"' in ask.content
    assert RiskPolicy.objects.get().enabled
    client.post(
        POLICIES, {"action": "disable_policies", "_selected_action": [policy.pk], "confirm": "yes", "reason": ""}
    )
    assert RiskPolicy.objects.get().enabled  # no reason, no change
    done = client.post(
        POLICIES,
        {"action": "disable_policies", "_selected_action": [policy.pk], "confirm": "yes", "reason": "drift"},
        follow=True,
    )
    assert b"Disabled: WHOLESALE" in done.content
    assert not RiskPolicy.objects.get().enabled
    event = AuditEvent.objects.filter(action="policy.update").get()
    assert (event.actor, event.reason, event.after["enabled"]) == ("op", "drift", False)


def test_policy_actions__viewer__not_offered_and_no_delete(client, viewer, make_policy):
    policy = make_policy()
    client.force_login(viewer)
    page = client.get(POLICIES)
    assert page.status_code == 200 and b"disable_policies" not in page.content
    client.post(
        POLICIES, {"action": "disable_policies", "_selected_action": [policy.pk], "confirm": "yes", "reason": "x"}
    )
    assert RiskPolicy.objects.get().enabled
    assert client.post(f"{POLICIES}{policy.pk}/delete/", {"post": "yes"}).status_code == 403


def test_today_page__usage_ledger_and_entries(client, viewer, busy_day):
    client.force_login(viewer)
    response = client.get(f"{POLICIES}{busy_day.pk}/today/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "WHOLESALE on" in content and ">75%</text></svg> 3 / 4" in content
    assert f"<code>{reasons.MAX_OPEN_EXPOSURE}</code> 1" in content
    assert content.count("<td>RESERVED</td>") == 2


def test_ledger_admin__filters_and_read_only(client, operator, busy_day):
    client.force_login(operator)
    entry = Reservation.objects.filter(status="DENIED").get()
    for query in ("", "?status__exact=DENIED", f"?reason__exact={reasons.MAX_OPEN_EXPOSURE}", "?domain=WHOLESALE",
                  f"?business_date__exact={entry.business_date}"):  # fmt: skip
        response = client.get(LEDGER + query)
        assert response.status_code == 200, query
    assert list(client.get(f"{LEDGER}?status__exact=DENIED").context["cl"].result_list) == [entry]
    assert client.get(f"{LEDGER}add/").status_code == 403
    detail = client.get(f"{LEDGER}{entry.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert client.post(f"{LEDGER}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
