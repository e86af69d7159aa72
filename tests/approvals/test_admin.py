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
