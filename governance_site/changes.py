"""Four-eyes: which changes loosen a control, and the gate every loosening change passes.

With GOVERNANCE_APPROVALS_REQUIRED on, a lever's service calls `require_approval` before a
loosening change (releasing the kill switch, enabling go-live, a policy field moved in its
loosening direction, resetting a KILL_SWITCH tripwire): it is refused (409 `approval_required`)
unless it runs inside `applying(...)`, which only the approvals app enters, for a change request
that was approved (or applied with the audited emergency bypass). Tightening never calls it.

A policy declares the loosening direction of its fields once, in its contract
(`loosening={"max_daily_loss": RAISE, "enabled": TURN_ON, ...}`).
"""

import contextlib
import contextvars
import enum
import json
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from governance_site.errors import Conflict

APPROVAL_REQUIRED = "approval_required"  # 409: a loosening change made directly while approvals are on

_applying: contextvars.ContextVar = contextvars.ContextVar("governance_change_request", default=None)


class Loosens(enum.Enum):
    """The direction in which a policy field loosens its control."""

    RAISE = "raise"  # a higher number allows more (a cap, a threshold of drop)
    RAISE_OR_REMOVE = "raise_or_remove"  # higher, or null (no cap at all)
    LOWER = "lower"  # a lower number allows more (a minimum confidence, trials, success rate)
    LOWER_OR_REMOVE = "lower_or_remove"  # lower, or null (a duplicate window: shorter or none)
    TURN_ON = "turn_on"  # enabling allows more (a risk or Heimdall policy)
    TURN_OFF = "turn_off"  # disabling allows more (a tripwire)

    def loosened(self, before, after) -> bool:
        if before == after:
            return False
        if self is Loosens.TURN_ON:
            return bool(after) and not before
        if self is Loosens.TURN_OFF:
            return bool(before) and not after
        if self in (Loosens.RAISE_OR_REMOVE, Loosens.LOWER_OR_REMOVE) and after is None:
            return True
        if before is None or after is None:
            return False  # from no value (no cap: already loosest) or to none where that is not looser
        return after > before if self in (Loosens.RAISE, Loosens.RAISE_OR_REMOVE) else after < before


@dataclass(frozen=True)
class Becomes:
    """Changing the field to `value` loosens its control (a tripwire's dry run: a trip no longer acts)."""

    value: object

    def loosened(self, before, after) -> bool:
        return after == self.value and before != self.value


def loosened_fields(loosening: dict, before: dict, after: dict) -> list[str]:
    """The fields of `loosening` that moved in their loosening direction from `before` to `after`."""
    return [name for name, direction in loosening.items() if direction.loosened(before.get(name), after.get(name))]


def approvals_required() -> bool:
    return settings.GOVERNANCE_APPROVALS_REQUIRED


def require_approval(*, what: str) -> None:
    """Refuse a loosening change made directly while approvals are on (409 `approval_required`)."""
    if approvals_required() and _applying.get() is None:
        raise Conflict(
            f"{what} loosens a control: with four-eyes approvals on it needs "
            f"{settings.GOVERNANCE_APPROVALS_COUNT} approval(s). Request the change "
            "(POST /api/governance/changes, or the admin's request path) and have another operator approve it.",
            reason=APPROVAL_REQUIRED,
        )


@contextlib.contextmanager
def applying(change_request):
    """The approvals app applies an approved (or emergency-bypassed) change request inside this."""
    token = _applying.set(change_request)
    try:
        yield
    finally:
        _applying.reset(token)


def request_url(kind: str, **fields) -> str:
    """The admin's "request a change" page, filled in (`changes` as JSON): where a refused
    loosening change made in the admin sends the operator."""
    if "changes" in fields:
        fields["changes"] = json.dumps(fields["changes"], cls=DjangoJSONEncoder)
    return f"{reverse('admin:approvals_changerequest_add')}?{urlencode({'kind': kind, **fields})}"
