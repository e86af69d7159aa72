"""The admin: the request path from the production switches, the queue with its diff, the steps."""

import pytest

from approvals.models import ChangeRequest
from golive import services as golive

pytestmark = pytest.mark.django_db
CHANGES = "/admin/approvals/changerequest/"


def test_production_page__approvals_on__release_button_requests_a_change(client, approvals_on, operator, killed):
    client.force_login(operator)
    page = client.get("/admin/golive/golivestate/1/change/").content.decode()
    assert f'href="{CHANGES}add/?kind=kill_switch.release"' in page and "Request: release the kill switch" in page


def test_production_page__approvals_off__release_button_is_the_switch(client, operator, killed):
    client.force_login(operator)
    page = client.get("/admin/golive/golivestate/1/change/").content.decode()
    assert 'href="/admin/golive/golivestate/switch/release-kill-switch/"' in page


def test_request_queue_approve_apply__through_the_admin(client, approvals_on, operator, second_operator, killed):
    client.force_login(operator)
    form = client.get(f"{CHANGES}add/?kind=kill_switch.release").content.decode()
    assert 'value="kill_switch.release" selected' in form
    created = client.post(f"{CHANGES}add/", {"kind": "kill_switch.release", "reason": "routing fixed"}, follow=True)
    change = ChangeRequest.objects.get()
    assert "takes effect once another operator approves it" in created.content.decode()
    own = client.post(f"{CHANGES}{change.pk}/step/approve/", {"note": ""}, follow=True)
    assert "another operator must approve it" in own.content.decode()

    client.force_login(second_operator)
    queue = client.get(f"{CHANGES}?state=pending").content.decode()
    assert "kill_switch_engaged" in queue and "routing fixed" in queue and "PENDING" in queue
    detail = client.get(f"{CHANGES}{change.pk}/change/").content.decode()
    assert 'id="change-steps"' in detail and "apply without approvals" not in detail
    client.post(f"{CHANGES}{change.pk}/step/approve/", {"note": "checked the fix"})
    applied = client.post(f"{CHANGES}{change.pk}/step/apply/", follow=True)
    assert "applied" in applied.content.decode()
    assert not golive.get_state().kill_switch_engaged


def test_viewer__sees_the_queue_takes_no_step(client, approvals_on, operator, viewer, killed):
    from approvals import services

    change = services.request_change(kind="kill_switch.release", reason="x", actor=operator)
    client.force_login(viewer)
    assert client.get(CHANGES).status_code == 200
    assert 'id="change-steps"' not in client.get(f"{CHANGES}{change.pk}/change/").content.decode()
    assert client.post(f"{CHANGES}{change.pk}/step/approve/").status_code == 403


def test_policy_form__loosening_with_approvals_on__sent_to_a_filled_in_request(
    client, wholesale_risk, approvals_on, operator, second_operator
):
    client.force_login(operator)
    url = f"/admin/risk/riskpolicy/{wholesale_risk.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"max_daily_loss": "5000", "reason": "season"})
    refused = client.post(url, data, follow=True)
    page = refused.content.decode()
    assert "Nothing was saved" in page and "loosens a control" in page
    assert refused.redirect_chain[-1][0].startswith(f"{CHANGES}add/?kind=policy.update")
    assert 'value="risk" selected' in page and "max_daily_loss" in page
    created = client.post(f"{CHANGES}add/", {"kind": "policy.update", "lever": "risk", "domain": "WHOLESALE",
                                             "changes": '{"max_daily_loss": "5000"}', "reason": "season"})  # fmt: skip
    assert created.status_code == 302
    change = ChangeRequest.objects.get()
    assert change.diff == {"max_daily_loss": ["1000.0000", "5000"]}


def test_kill_switch_tripwire_reset_in_the_admin__refused_with_a_request_link(
    client, wholesale_risk, approvals_on, operator, tripwire, feed
):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    from governance_site.alerts import selectors as alert_selectors
    from governance_site.alerts import services as alerts
    from regression import services as regression
    from tests.regression.conftest import outcomes

    tripwire(action="KILL_SWITCH")
    feed(outcomes(200, 200) + outcomes(0, 50))
    state = regression.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tests/setup")
    for alert in alert_selectors.unacknowledged_for(state):
        alerts.acknowledge(alert_id=alert.pk, note="seen", actor=operator)
    client.force_login(operator)
    done = client.post("/admin/regression/regressionstate/", {"action": "reset_tripwires", "apply": "1",
                       "reason": "fixed", ACTION_CHECKBOX_NAME: [state.pk]}, follow=True)  # fmt: skip
    page = done.content.decode()
    assert "Nothing changed: Resetting WHOLESALE.contract_rate (a KILL_SWITCH tripwire) loosens a control" in page
    query = "kind=tripwire.reset&amp;reason=fixed&amp;domain=WHOLESALE&amp;metric=contract_rate"
    assert f'href="{CHANGES}add/?{query}"' in page
