"""Four-eyes approvals: request, edit, approve, reject and apply changes that loosen a control.

Every step is audited in its own transaction (the request row is the audited object, under the
lever it changes). Applying re-reads the world: anything changed since the request (its `seen`
state) is a conflict, never overwritten. The change itself runs through the lever's service inside
`governance_site.changes.applying`, the only way past the gate while approvals are on.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance_site import changes
from governance_site.audit import services as audit
from governance_site.errors import Conflict, InvalidInput, NotFound

from . import kinds, reasons
from .models import Approval, ChangeRequest, Status

EMERGENCY_PERMISSION = "approvals.emergency_bypass"


def _text(value, field: str) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if not value:
        raise InvalidInput(f"{field}: required (it goes to the audit trail).", field=field)
    return value


def _expiry() -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=settings.GOVERNANCE_APPROVALS_EXPIRE_HOURS)


def _user(actor):
    return None if isinstance(actor, str) else actor


def _inspect(kind: str, params: dict) -> kinds.Inspection:
    inspection = kinds.spec(kind).inspect(params)
    if inspection.nothing_to_do:
        raise Conflict(f"{inspection.target}: nothing to request, {inspection.nothing_to_do}", reason=reasons.NO_CHANGE)
    if not inspection.loosens:
        raise InvalidInput(
            f"{inspection.target}: this change loosens nothing; tightening never waits: make it directly.",
            field="kind",
            reason=reasons.NOT_LOOSENING,
        )
    return inspection


def _locked(change_id: int) -> ChangeRequest:
    change = ChangeRequest.objects.select_for_update().filter(pk=change_id).first()
    if change is None:
        raise NotFound(f"No change request {change_id}.")
    return change


def _require_open(change: ChangeRequest) -> None:
    if change.status != Status.PENDING:
        raise Conflict(f"{change} is {change.status}.", reason=reasons.NOT_PENDING)
    if change.expired:
        raise Conflict(f"{change} expired at {change.expires_at:%Y-%m-%d %H:%M %Z}: request it again.",
                       reason=reasons.EXPIRED)  # fmt: skip


@transaction.atomic
def request_change(*, kind: str, params: dict | None = None, reason: str, actor) -> ChangeRequest:
    """Ask for a loosening change; it waits for approvals (a change that loosens nothing is a 400)."""
    reason = _text(reason, "reason")
    params = kinds.clean_params(kind, params or {})
    inspection = _inspect(kind, params)
    change = ChangeRequest.objects.create(
        kind=kind, lever=inspection.lever, target=inspection.target, params=params, diff=inspection.diff,
        seen=inspection.seen, reason=reason, requested_by=audit.actor_name(actor), requested_by_user=_user(actor),
        expires_at=_expiry(),
    )  # fmt: skip
    audit.record(actor=actor, lever=change.lever, instance=change, action="change.request", before=None, reason=reason)
    return change


@transaction.atomic
def edit_change(*, change_id: int, params: dict | None = None, reason: str | None = None, actor) -> ChangeRequest:
    """The requester changes their request: a new revision, against today's state; approvals void."""
    change = _locked(change_id)
    _require_open(change)
    if audit.actor_name(actor) != change.requested_by:
        raise Conflict(f"Only {change.requested_by} edits {change}; request your own change.",
                       reason=reasons.NOT_REQUESTER)  # fmt: skip
    before = audit.snapshot(change)
    change.params = kinds.clean_params(change.kind, change.params if params is None else params)
    inspection = _inspect(change.kind, change.params)
    change.target, change.diff, change.seen = inspection.target, inspection.diff, inspection.seen
    if reason is not None:
        change.reason = _text(reason, "reason")
    change.revision += 1  # approvals are per revision: the earlier ones no longer count
    change.expires_at = _expiry()
    change.save()
    audit.record(actor=actor, lever=change.lever, instance=change, action="change.edit", before=before,
                 reason=change.reason)  # fmt: skip
    return change


@transaction.atomic
def approve(*, change_id: int, note: str = "", actor) -> ChangeRequest:
    """Another operator approves the request's current revision (never the requester)."""
    change = _locked(change_id)
    _require_open(change)
    name = audit.actor_name(actor)
    if name == change.requested_by:
        raise Conflict(f"{name} requested {change}: another operator must approve it.", reason=reasons.SELF_APPROVAL)
    if change.current_approvals().filter(approver=name).exists():
        raise Conflict(f"{name} already approved revision {change.revision} of {change}.",
                       reason=reasons.ALREADY_APPROVED)  # fmt: skip
    before = audit.snapshot(change)
    Approval.objects.create(change_request=change, revision=change.revision, approver=name, approver_user=_user(actor),
                            note=(note or "").strip())  # fmt: skip
    audit.record(actor=actor, lever=change.lever, instance=change, action="change.approve", before=before,
                 reason=(note or "").strip())  # fmt: skip
    return change


@transaction.atomic
def reject(*, change_id: int, note: str, actor) -> ChangeRequest:
    """Turn the request down (or, by its requester, withdraw it), with a note."""
    note = _text(note, "note")
    change = _locked(change_id)
    _require_open(change)
    before = audit.snapshot(change)
    change.status, change.decided_by, change.decided_at, change.decision_note = (
        Status.REJECTED, audit.actor_name(actor), timezone.now(), note,
    )  # fmt: skip
    change.save()
    audit.record(actor=actor, lever=change.lever, instance=change, action="change.reject", before=before, reason=note)
    return change


def may_bypass(actor) -> bool:
    return not isinstance(actor, str) and actor.is_active and actor.has_perm(EMERGENCY_PERMISSION)


@transaction.atomic
def apply(*, change_id: int, actor, emergency: bool = False, note: str = "") -> ChangeRequest:
    """Make the change, once approved by GOVERNANCE_APPROVALS_COUNT operators (or, with the
    emergency-bypass permission and `emergency`, at once: audited as change.bypass, which raises a
    critical alert). Refused (409 stale_change) when what it changes has changed since."""
    change = _locked(change_id)
    _require_open(change)
    approvers = list(change.current_approvals().values_list("approver", flat=True))
    if emergency:
        if not may_bypass(actor):
            raise Conflict("The emergency bypass needs the 'emergency bypass' permission.",
                           reason=reasons.BYPASS_NOT_PERMITTED)  # fmt: skip
        note = _text(note, "note")
    elif len(approvers) < settings.GOVERNANCE_APPROVALS_COUNT:
        raise Conflict(
            f"{change} has {len(approvers)} of the {settings.GOVERNANCE_APPROVALS_COUNT} approval(s) it needs.",
            reason=reasons.NOT_APPROVED,
        )
    spec = kinds.spec(change.kind)
    now_seen = spec.inspect(change.params).seen
    if now_seen != change.seen:
        moved = sorted(name for name in change.seen | now_seen if change.seen.get(name) != now_seen.get(name))
        raise Conflict(
            f"{change.target} changed since {change} was requested ({', '.join(moved)}): the request no longer "
            "says what it would do. Edit it (a new revision, approved again) or reject it.",
            reason=reasons.STALE_CHANGE,
        )
    before = audit.snapshot(change)
    how = "emergency bypass" if emergency else f"approved by {', '.join(approvers)}"
    with changes.applying(change):
        spec.apply(change.params, actor=actor, reason=f"{change.reason} (change request #{change.pk}, {how})")
    change.status, change.decided_by, change.decided_at = Status.APPLIED, audit.actor_name(actor), timezone.now()
    change.emergency, change.decision_note = emergency, note
    change.save()
    action = "change.bypass" if emergency else "change.apply"
    audit.record(actor=actor, lever=change.lever, instance=change, action=action, before=before,
                 reason=note or change.reason)  # fmt: skip
    return change
