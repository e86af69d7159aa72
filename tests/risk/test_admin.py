import pytest

from governance_site.audit.models import AuditEvent
from governance_site.policies import PolicyContract, version_of
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
        "amount_collar_sample": "50", "reason": "new engine",
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
        "max_action_amount": "", "reservation_ttl_seconds": "900", "amount_collar_sample": "50", "reason": "more room",
        "version": version_of(policy),
    }  # fmt: skip
    assert client.post(f"{POLICIES}{policy.pk}/change/", body).status_code == 302
    event = AuditEvent.objects.filter(action="policy.update").get()
    assert (event.before["max_daily_actions"], event.after["max_daily_actions"], event.reason) == (5, 7, "more room")


def _change_form(policy, **changes):
    return {
        "enabled": "on", "max_daily_loss": "1000", "max_open_exposure": "5000", "max_daily_actions": "5",
        "max_action_amount": "", "reservation_ttl_seconds": "900", "amount_collar_sample": "50",
        "version": version_of(policy), **changes,
    }  # fmt: skip


def test_policy_change__without_reason__saved_and_audited_as_unexplained(client, operator, make_policy):
    policy = make_policy(max_daily_actions=5)
    client.force_login(operator)
    response = client.post(f"{POLICIES}{policy.pk}/change/", _change_form(policy, max_daily_actions="7", reason=""))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert RiskPolicy.objects.get().max_daily_actions == 7
    assert AuditEvent.objects.get(action="policy.update").reason == ""


def test_policy_change__reason_required_by_setting__refused_and_unchanged(client, operator, make_policy, settings):
    policy = make_policy(max_daily_actions=5)
    settings.GOVERNANCE_REQUIRE_REASON = True
    client.force_login(operator)
    response = client.post(f"{POLICIES}{policy.pk}/change/", _change_form(policy, max_daily_actions="7", reason=""))
    assert response.status_code == 200
    assert "reason" in response.context["adminform"].form.errors
    assert RiskPolicy.objects.get().max_daily_actions == 5
    assert not AuditEvent.objects.filter(action="policy.update").exists()


def test_policy_change__stale_form_after_a_throttle__refused_and_throttle_kept(client, operator, make_policy):
    """The tripwire throttles the domain while an operator has its form open: saving the old form
    to change only max_daily_actions must not re-enable the policy (issue 11, point 1)."""
    policy = make_policy(max_daily_actions=5)
    client.force_login(operator)
    opened = client.get(f"{POLICIES}{policy.pk}/change/").context["adminform"].form
    seen = {name: opened[name].value() for name in opened.fields if opened[name].value() is not None}
    assert seen["enabled"] is True and seen["version"] == version_of(policy)
    services.throttle_domain(domain="WHOLESALE", reason="Regression: WHOLESALE.contract_rate dropped", actor="t/b")
    body = {**seen, "enabled": "on", "max_daily_actions": "7", "reason": "more room"}
    response = client.post(f"{POLICIES}{policy.pk}/change/", body)
    assert response.status_code == 200
    assert "changed by t/b since you opened it" in response.content.decode()
    policy.refresh_from_db()
    assert (policy.enabled, policy.max_daily_actions) == (False, 5)
    assert not AuditEvent.objects.filter(actor="op").exists()
    reopened = client.get(f"{POLICIES}{policy.pk}/change/").context["adminform"].form
    body = {**body, "version": reopened["version"].value(), "enabled": ""}
    assert client.post(f"{POLICIES}{policy.pk}/change/", body).status_code == 302
    policy.refresh_from_db()
    assert (policy.enabled, policy.max_daily_actions) == (False, 7)


def test_policy_change__conflict_under_the_lock__refused_with_a_message(client, operator, make_policy, monkeypatch):
    """A change committed between the form's check and the save is refused by the service's own
    version check under the row lock, and shown, not a 500 (the change "meanwhile" is simulated
    inside the request, so it is undone with it: what counts is that the form's is not saved)."""
    policy = make_policy(max_daily_actions=5)
    client.force_login(operator)
    original = PolicyContract.clean_reason  # runs after the form's check, before the row is locked

    def meanwhile(contract, reason):
        monkeypatch.setattr(PolicyContract, "clean_reason", original)
        services.throttle_domain(domain="WHOLESALE", reason="meanwhile", actor="t/b")
        return original(contract, reason)

    monkeypatch.setattr(PolicyContract, "clean_reason", meanwhile)
    body = _change_form(policy, max_daily_actions="7", reason="more room")
    response = client.post(f"{POLICIES}{policy.pk}/change/", body, follow=True)
    assert "Nothing was saved" in response.content.decode() and "since you opened it" in response.content.decode()
    assert RiskPolicy.objects.get().max_daily_actions == 5
    assert not AuditEvent.objects.filter(actor="op").exists()


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
