"""Sending: signed webhooks to a real local receiver, retries with backoff, Slack, email, the log."""

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from golive import services as golive
from governance_site.alerts import services, signing
from governance_site.alerts.models import Alert, Delivery, DeliveryStatus, Destination, DestinationKind
from governance_site.alerts.tasks import deliver

from .conftest import SETUP

pytestmark = pytest.mark.django_db


def engage() -> Delivery:
    golive.set_kill_switch(engaged=True, reason="routing misbehaving", actor=SETUP)
    return Delivery.objects.get(alert__event="kill_switch.engage")


def assert_signed(received, secret="s3cret"):
    headers = received.headers
    assert signing.verify(
        secret, timestamp=headers[signing.TIMESTAMP_HEADER], body=received.body,
        signature_header=headers[signing.SIGNATURE_HEADER],
    )  # fmt: skip


def test_webhook__received_with_a_valid_signature_and_the_alert_as_json(receiver, webhook):
    delivery = engage()
    assert services.attempt_delivery(delivery_id=delivery.pk) is None
    [received] = receiver.received
    assert_signed(received)
    assert received.headers[signing.DELIVERY_HEADER] == str(delivery.pk)
    body = json.loads(received.body)
    assert (body["event"], body["severity"], body["title"]) == ("kill_switch.engage", "critical", "Kill switch engaged")
    assert (body["reason"], body["actor"], body["requires_ack"], body["reminder"]) == (
        "routing misbehaving", SETUP, True, 0,
    )  # fmt: skip
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None


def test_signature__other_secret_tampered_body_or_old_timestamp__rejected(receiver, webhook):
    services.attempt_delivery(delivery_id=engage().pk)
    [received] = receiver.received
    timestamp, header = received.headers[signing.TIMESTAMP_HEADER], received.headers[signing.SIGNATURE_HEADER]
    assert not signing.verify("other", timestamp=timestamp, body=received.body, signature_header=header)
    assert not signing.verify("s3cret", timestamp=timestamp, body=received.body + b" ", signature_header=header)
    replayed_later = int(timestamp) + signing.DEFAULT_TOLERANCE_SECONDS + 1
    assert not signing.verify(
        "s3cret", timestamp=timestamp, body=received.body, signature_header=header, now=replayed_later
    )


def test_failure__retried_with_exponential_backoff_then_delivered(receiver, webhook, settings):
    settings.ALERTS_RETRY_BASE_SECONDS = 30
    receiver.statuses = [500, 503]
    delivery = engage()
    start = timezone.now()
    assert services.attempt_delivery(delivery_id=delivery.pk, now=start) == 30
    # Not due yet: a duplicate or early message does nothing.
    assert services.attempt_delivery(delivery_id=delivery.pk, now=start + dt.timedelta(seconds=10)) is None
    assert len(receiver.received) == 1
    assert services.attempt_delivery(delivery_id=delivery.pk, now=start + dt.timedelta(seconds=30)) == 60
    assert services.attempt_delivery(delivery_id=delivery.pk, now=start + dt.timedelta(seconds=90)) is None
    assert len(receiver.received) == 3
    for received in receiver.received:
        assert_signed(received)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    log = list(delivery.attempt_log.values_list("ok", "status_code"))
    assert log == [(False, 500), (False, 503), (True, 200)]


def test_backoff__doubles_and_is_capped(settings):
    settings.ALERTS_RETRY_BASE_SECONDS, settings.ALERTS_RETRY_MAX_SECONDS = 10, 100
    assert [services.backoff(n) for n in range(1, 7)] == [10, 20, 40, 80, 100, 100]


def test_every_attempt_fails__failed_and_a_delivery_failing_alert_to_the_others(receiver, webhook, settings):
    settings.ALERTS_MAX_ATTEMPTS = 2
    receiver.statuses = [500, 502]
    delivery = engage()
    other = Destination.objects.create(name="mail", kind=DestinationKind.EMAIL, recipients="ops@example.com")
    now = timezone.now()
    services.attempt_delivery(delivery_id=delivery.pk, now=now)
    assert services.attempt_delivery(delivery_id=delivery.pk, now=now + dt.timedelta(hours=1)) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 2, 502)
    assert "HTTP 502" in delivery.last_error
    failing = Alert.objects.get(event=services.DELIVERY_FAILING_EVENT)
    assert failing.title == "Alert destination pager is failing"
    assert [d.destination for d in failing.deliveries.all()] == [other]  # not the failing one


def test_destination_down__attempt_fails_fast_and_is_retried(webhook, receiver):
    receiver.close()  # nothing listens on that port any more
    delivery = engage()
    assert services.attempt_delivery(delivery_id=delivery.pk) > 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("retrying", None)
    assert "refused" in delivery.last_error.lower()


def test_slack__text_message(receiver):
    Destination.objects.create(name="chat", kind=DestinationKind.SLACK, url=receiver.url)
    services.attempt_delivery(delivery_id=engage().pk)
    [received] = receiver.received
    text = "[CRITICAL] Kill switch engaged — routing misbehaving (by tests/setup)"
    assert json.loads(received.body) == {"text": text}
    assert signing.SIGNATURE_HEADER not in received.headers


def test_email__in_the_outbox(mailoutbox):
    Destination.objects.create(name="mail", kind=DestinationKind.EMAIL, recipients="ops@example.com, cto@example.com")
    services.attempt_delivery(delivery_id=engage().pk)
    [mail] = mailoutbox
    assert mail.to == ["ops@example.com", "cto@example.com"]
    assert mail.subject.startswith("[CRITICAL] Kill switch engaged")
    assert '"event": "kill_switch.engage"' in mail.body


def test_paused_after_the_alert__skipped(receiver, webhook):
    delivery = engage()
    webhook.paused = True
    webhook.save()
    services.attempt_delivery(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, receiver.received) == ("skipped", [])


def test_send_test__delivered_even_to_a_paused_destination(receiver, webhook, django_capture_on_commit_callbacks):
    webhook.paused = True
    webhook.save()
    with django_capture_on_commit_callbacks() as callbacks:
        delivery = services.send_test(destination_id=webhook.pk, actor=SETUP)
    assert len(callbacks) == 1
    services.attempt_delivery(delivery_id=delivery.pk)
    assert json.loads(receiver.received[0].body)["event"] == "alert.test"


def test_redeliver__a_failed_delivery_is_sent_again_from_attempt_one(receiver, webhook, settings):
    settings.ALERTS_MAX_ATTEMPTS = 1
    receiver.statuses = [500]
    delivery = engage()
    services.attempt_delivery(delivery_id=delivery.pk)
    assert services.redeliver(delivery_ids=[delivery.pk]) == 1
    services.attempt_delivery(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(receiver.received)) == ("delivered", 1, 2)
    assert delivery.attempt_log.count() == 2


def test_dispatch_due__hands_over_only_overdue_deliveries(webhook, eager, receiver):
    delivery = engage()
    assert services.dispatch_due() == 0  # just created: its on_commit hand-over is still to come
    later = timezone.now() + services.DISPATCH_GRACE + dt.timedelta(seconds=1)
    assert services.dispatch_due(now=later) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and len(receiver.received) == 1


def test_save_destination__webhook_without_url__invalid_input_naming_url():
    from governance_site.errors import InvalidInput

    with pytest.raises(InvalidInput) as refusal:
        services.save_destination(destination=Destination(name="x", kind=DestinationKind.WEBHOOK), actor=SETUP)
    assert refusal.value.field == "url"


@pytest.mark.django_db(transaction=True)
def test_committed_change__delivered_after_commit_and_rolled_back__never_sent(receiver, webhook, eager):
    with pytest.raises(RuntimeError), transaction.atomic():
        golive.set_kill_switch(engaged=True, reason="rolled back", actor=SETUP)
        raise RuntimeError("the change fails")
    assert receiver.received == [] and not Alert.objects.exists()
    with transaction.atomic():
        golive.set_kill_switch(engaged=True, reason="committed", actor=SETUP)
        assert receiver.received == []  # nothing leaves before the commit
    [received] = receiver.received
    assert_signed(received)
    assert json.loads(received.body)["reason"] == "committed"


@pytest.mark.django_db(transaction=True)
def test_broker_down_at_commit__the_change_commits_and_the_sweep_sends_later(receiver, webhook, monkeypatch, eager):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(deliver, "apply_async", broker_down)
    state = golive.set_kill_switch(engaged=True, reason="x", actor=SETUP)
    assert state.kill_switch_engaged and receiver.received == []
    monkeypatch.undo()
    services.dispatch_due(now=timezone.now() + services.DISPATCH_GRACE + dt.timedelta(seconds=1))
    assert len(receiver.received) == 1


def test_readme_snippet__accepts_a_real_delivery_and_rejects_tampering(receiver, webhook):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    snippet = re.search(r"```python\n(import hashlib.*?def verify_governance_webhook.*?)```", readme, re.S).group(1)
    namespace = {}
    exec(snippet, namespace)  # the documented code, as a receiver would paste it
    verify = namespace["verify_governance_webhook"]
    services.attempt_delivery(delivery_id=engage().pk)
    [received] = receiver.received
    timestamp, header = received.headers[signing.TIMESTAMP_HEADER], received.headers[signing.SIGNATURE_HEADER]
    assert verify("s3cret", received.body, timestamp, header)
    assert not verify("s3cret", received.body + b"x", timestamp, header)
    old = str(int(timestamp) - 301)  # correctly signed, but too old: a replay
    assert not verify("s3cret", received.body, old, signing.signature("s3cret", old, received.body))
