"""The admin: destinations (add, Send a test), acknowledging with a note, the delivery log, redeliver."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from golive import services as golive
from governance_site.alerts import services
from governance_site.alerts.models import Alert, Delivery, Destination
from governance_site.audit.models import AuditEvent

from .conftest import SETUP

pytestmark = pytest.mark.django_db
DESTINATIONS, ALERTS, DELIVERIES = "/admin/alerts/destination/", "/admin/alerts/alert/", "/admin/alerts/delivery/"


def test_destination__added_with_filters_then_send_a_test_button(
    client, operator, receiver, eager, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    form = {"name": "risk pager", "kind": "webhook", "url": receiver.url, "secret": "k", "recipients": "",
            "min_severity": "high", "levers": ["risk", "regression"]}  # fmt: skip
    response = client.post(f"{DESTINATIONS}add/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    destination = Destination.objects.get()
    assert (destination.levers, destination.min_severity, destination.changed_by) == (["risk", "regression"], "high",
                                                                                      "op")  # fmt: skip
    page = client.get(f"{DESTINATIONS}{destination.pk}/change/").content.decode()
    assert 'id="send-test"' in page
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"{DESTINATIONS}{destination.pk}/send-test/", follow=True)
    assert "Test alert queued for risk pager" in sent.content.decode()
    assert len(receiver.received) == 1  # Celery eager: sent on commit
    assert Delivery.objects.get().status == "delivered"


def test_destination__email_without_recipients__form_error(client, operator):
    client.force_login(operator)
    response = client.post(f"{DESTINATIONS}add/", {"name": "m", "kind": "email", "min_severity": "info"})
    assert response.status_code == 200
    assert "needs at least one address" in response.content.decode()
    assert not Destination.objects.exists()


def test_destination__viewers_never_see_secrets(client, viewer):
    client.force_login(viewer)
    assert client.get(DESTINATIONS).status_code == 403
    assert client.get(ALERTS).status_code == 200


def test_alert__acknowledge_button_asks_for_a_note_then_audits(client, operator):
    golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)
    alert = Alert.objects.get()
    client.force_login(operator)
    page = client.get(f"{ALERTS}{alert.pk}/change/").content.decode()
    assert 'id="acknowledge-alert"' in page and "AWAITING" in client.get(ALERTS).content.decode()
    url = f"{ALERTS}{alert.pk}/acknowledge/"
    assert "This field is required" in client.post(url, {"note": ""}).content.decode()
    done = client.post(url, {"note": "paging routing"}, follow=True)
    assert "Acknowledged: #" in done.content.decode()
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.ack_note) == ("op", "paging routing")
    assert AuditEvent.objects.filter(action="alert.acknowledge", actor="op").count() == 1


def test_alert__viewer_may_not_acknowledge(client, viewer):
    golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)
    client.force_login(viewer)
    assert client.post(f"{ALERTS}{Alert.objects.get().pk}/acknowledge/", {"note": "x"}).status_code == 403
    assert Alert.objects.get().unacknowledged


def test_delivery_log__attempts_codes_error_and_redeliver(
    client, operator, receiver, webhook, settings, eager, django_capture_on_commit_callbacks
):
    settings.ALERTS_MAX_ATTEMPTS = 1
    receiver.statuses = [503]
    golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)
    delivery = Delivery.objects.get()
    services.attempt_delivery(delivery_id=delivery.pk)
    client.force_login(operator)
    listing = client.get(DELIVERIES).content.decode()
    assert "HTTP 503" in listing and "Failed" in listing
    detail = client.get(f"{DELIVERIES}{delivery.pk}/change/").content.decode()
    assert "503" in detail
    with django_capture_on_commit_callbacks(execute=True):
        client.post(DELIVERIES, {"action": "redeliver", ACTION_CHECKBOX_NAME: [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code, len(receiver.received)) == ("delivered", 200, 2)
