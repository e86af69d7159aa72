"""Signed webhooks: HMAC-SHA256 over "<timestamp>.<body>", checked with a replay window.

Headers sent: `X-Governance-Timestamp` (Unix seconds) and `X-Governance-Signature`
(`sha256=<hex>`). The README shows the same check for receivers that do not run this code.
"""

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Governance-Timestamp"
SIGNATURE_HEADER = "X-Governance-Signature"
DELIVERY_HEADER = "X-Governance-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str,
    *,
    timestamp: str,
    body: bytes,
    signature_header: str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when the signature matches and the timestamp is within `tolerance` seconds of now."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False  # a replay of an old (or a forged future) request
    return hmac.compare_digest(signature(secret, timestamp, body), signature_header or "")
