import pytest

from golive import services
from governance_site.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

STATE_PAGE = "/admin/golive/golivestate/1/change/"


def test_admin__anonymous__redirected_to_login(client):
    response = client.get(STATE_PAGE)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_root__anonymous__sent_to_the_admin_login(client):
    assert client.get("/", follow=True).redirect_chain[-1][0].startswith("/admin/login/")


def test_state_page__operator__shows_status_and_actions(client, operator):
    client.force_login(operator)
    response = client.get("/admin/golive/golivestate/", follow=True)
    assert response.status_code == 200
    assert b"GO-LIVE OFF" in response.content
    assert b"action-engage-kill-switch" in response.content
    assert b"action-enable-go-live" in response.content


def test_state_page__viewer__status_without_actions(client, viewer):
    client.force_login(viewer)
    response = client.get(STATE_PAGE)
    assert response.status_code == 200
    assert b"GO-LIVE OFF" in response.content
    assert b"action-engage-kill-switch" not in response.content


def test_engage_kill_switch__confirm_with_reason__engaged_and_audited(client, operator, live):
    client.force_login(operator)
    url = "/admin/golive/golivestate/switch/engage-kill-switch/"
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert b"Engage the kill switch" in confirm.content
    response = client.post(url, {"reason": "capital routing misbehaving"}, follow=True)
    assert b"KILL SWITCH ENGAGED" in response.content
    state = services.get_state()
    assert state.kill_switch_engaged and not state.go_live_enabled
    event = AuditEvent.objects.get(action="kill_switch.engage")
    assert (event.actor, event.reason) == ("op", "capital routing misbehaving")


def test_switch__without_reason__asks_again_and_changes_nothing(client, operator):
    client.force_login(operator)
    response = client.post("/admin/golive/golivestate/switch/engage-kill-switch/", {"reason": ""})
    assert response.status_code == 200
    assert b"This field is required" in response.content
    assert not services.get_state().kill_switch_engaged


def test_enable__while_killed__error_message_and_still_off(client, operator):
    services.set_kill_switch(engaged=True, reason="drill", actor=operator)
    client.force_login(operator)
    response = client.post("/admin/golive/golivestate/switch/enable-go-live/", {"reason": "go"}, follow=True)
    assert b"release the kill switch first" in response.content
    assert not services.get_state().go_live_enabled


def test_switch__viewer__403(client, viewer):
    client.force_login(viewer)
    response = client.post("/admin/golive/golivestate/switch/engage-kill-switch/", {"reason": "x"})
    assert response.status_code == 403
    assert not services.get_state().kill_switch_engaged


def test_state_change_form__post__refused_and_nothing_saved(client, operator):
    client.force_login(operator)
    before = services.get_state().updated_at
    response = client.post(STATE_PAGE, {"reason": "sneaky"})
    assert response.status_code == 403
    assert services.get_state().updated_at == before
    assert not AuditEvent.objects.exists()
