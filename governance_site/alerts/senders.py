"""Sending one delivery: a signed JSON webhook, a Slack-compatible message, or an email.

Each sender returns the HTTP status code (None for email) or raises `SendFailed`; every network
call has a timeout (ALERTS_HTTP_TIMEOUT_SECONDS), and redirects are not followed (a 3xx fails).
"""

import json
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from . import signing
from .models import Alert, Delivery, DestinationKind

USER_AGENT = "governance-control-plane-alerts/1"
MAX_ERROR_CHARS = 2000


class SendFailed(Exception):
    def __init__(self, message: str, *, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx code


_opener = urllib.request.build_opener(_NoRedirect)


def admin_link(alert: Alert) -> str:
    base = settings.ALERTS_SITE_URL.rstrip("/")
    return f"{base}{reverse('admin:alerts_alert_change', args=[alert.pk])}" if base else ""


def payload(delivery: Delivery) -> dict:
    """The JSON a signed webhook receives."""
    alert = delivery.alert
    return {
        "id": alert.pk,
        "delivery_id": delivery.pk,
        "event": alert.event,
        "severity": alert.severity,
        "lever": alert.lever,
        "title": alert.title,
        "object": {"type": alert.object_type, "id": alert.object_id, "repr": alert.object_repr},
        "actor": alert.actor,
        "reason": alert.reason,
        "created_at": alert.created_at,
        "requires_ack": alert.requires_ack,
        "acknowledged": alert.acknowledged_at is not None,
        "reminder": delivery.round,
        "url": admin_link(alert),
    }


def text(delivery: Delivery) -> str:
    """One human line (Slack, email subject and body)."""
    alert = delivery.alert
    parts = [f"[{alert.severity.upper()}] {alert.title}"]
    if delivery.round:
        parts.append(f"(reminder {delivery.round}: not acknowledged)")
    if alert.reason:
        parts.append(f"— {alert.reason}")
    if alert.actor:
        parts.append(f"(by {alert.actor})")
    if link := admin_link(alert):
        parts.append(link)
    return " ".join(parts)


def _post(url: str, body: bytes, headers: dict) -> int:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    )
    try:
        with _opener.open(request, timeout=settings.ALERTS_HTTP_TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise SendFailed(f"HTTP {exc.code} {exc.reason}", status_code=exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, timed out, TLS
        raise SendFailed(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc


def _json(data: dict) -> bytes:
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def send_webhook(delivery: Delivery) -> int:
    body = _json(payload(delivery))
    timestamp = str(int(time.time()))
    headers = {
        signing.TIMESTAMP_HEADER: timestamp,
        signing.SIGNATURE_HEADER: signing.signature(delivery.destination.secret, timestamp, body),
        signing.DELIVERY_HEADER: str(delivery.pk),
    }
    return _post(delivery.destination.url, body, headers)


def send_slack(delivery: Delivery) -> int:
    return _post(delivery.destination.url, _json({"text": text(delivery)}), {})


def send_email(delivery: Delivery) -> None:
    line = text(delivery)
    try:
        send_mail(
            subject=line[:150],
            message=f"{line}\n\n{json.dumps(payload(delivery), cls=DjangoJSONEncoder, indent=2)}\n",
            from_email=None,  # DEFAULT_FROM_EMAIL
            recipient_list=delivery.destination.recipient_list,
        )
    except Exception as exc:  # SMTP errors, refused connections: a failed attempt, retried
        raise SendFailed(f"{type(exc).__name__}: {exc}") from exc


SENDERS = {DestinationKind.WEBHOOK: send_webhook, DestinationKind.SLACK: send_slack, DestinationKind.EMAIL: send_email}


def send(delivery: Delivery) -> int | None:
    return SENDERS[delivery.destination.kind](delivery)
