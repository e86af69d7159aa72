"""The Risk Guard: policies, reserve → settle/release/expire, and the tripwire's throttle.

Locking: every write that touches a domain's entries or daily totals first locks the domain's
policy row (`select_for_update`), so reserves, settles, releases and expiries of one domain are
serialised and caps hold under any concurrency. Reads of the totals under that lock are exact.
"""

import datetime as dt
import statistics
from collections.abc import Mapping
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, F, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from golive import services as golive
from golive import signals as golive_signals
from golive.models import KillScope
from governance_site import roles
from governance_site.audit import services as audit
from governance_site.audit.models import Lever
from governance_site.business_day import business_date
from governance_site.changes import Loosens
from governance_site.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError, Unprocessable
from governance_site.formatting import money
from governance_site.identifiers import DOMAIN
from governance_site.policies import PolicyContract, required_reason

from . import reasons, selectors
from .models import MAX_DAILY_ACTIONS, DailyTotals, FirmRiskPolicy, Reservation, RiskPolicy, Status, net_loss

CAPS = ("max_daily_loss", "max_open_exposure", "max_daily_actions")


def _check_caps(policy: RiskPolicy) -> None:
    """Caps that agree: one action no larger than the open-exposure cap (it could never be
    approved; a cap of 0 allows nothing anyway), and a new policy enabled only with its caps set."""
    exposure = policy.max_open_exposure
    if policy.max_action_amount is not None and 0 < exposure < policy.max_action_amount:
        raise InvalidInput(
            f"max_action_amount: {money(policy.max_action_amount)} is larger than max_open_exposure "
            f"{money(policy.max_open_exposure)}: no action that large could ever be approved. Lower "
            "max_action_amount or raise max_open_exposure.",
            field="max_action_amount",
        )
    unset = [cap for cap in CAPS if not getattr(policy, cap)]
    if policy._state.adding and policy.enabled and unset:
        raise InvalidInput(
            f"enabled: a new risk policy is enabled only with its caps set; give {', '.join(unset)} "
            "(above 0), or create it disabled and enable it once they are.",
            field="enabled",
        )


def _note_throttle_lift(before: dict | None, policy: RiskPolicy, actor, reason: str) -> str:
    """Re-enabling a policy that a tripwire's throttle disabled records "Throttle lifted by X"."""
    if before is None or before["enabled"] or not policy.enabled or selectors.throttle(policy.domain) is None:
        return reason
    return f"Throttle lifted by {audit.actor_name(actor)}" + (f": {reason}" if reason else ".")


POLICY = PolicyContract(
    model=RiskPolicy,
    lever=Lever.RISK,
    title="risk policy",
    keys=(DOMAIN,),
    fields=(
        "enabled",
        *CAPS,
        "max_action_amount",
        "reservation_ttl_seconds",
        # Pre-action checks, each off while empty.
        "max_actions_per_second",
        "max_actions_per_minute",
        "max_engine_actions_per_minute",
        "duplicate_window_seconds",
        "amount_collar_factor",
        "amount_collar_sample",
    ),
    check=_check_caps,
    annotate=_note_throttle_lift,
    loosening={
        "enabled": Loosens.TURN_ON,  # re-enabling a throttled domain
        "max_daily_loss": Loosens.RAISE,
        "max_open_exposure": Loosens.RAISE,
        "max_daily_actions": Loosens.RAISE,
        "max_action_amount": Loosens.RAISE_OR_REMOVE,  # null: no cap at all
        # Pre-action checks: null turns a check off.
        "max_actions_per_second": Loosens.RAISE_OR_REMOVE,
        "max_actions_per_minute": Loosens.RAISE_OR_REMOVE,
        "max_engine_actions_per_minute": Loosens.RAISE_OR_REMOVE,
        "duplicate_window_seconds": Loosens.LOWER_OR_REMOVE,
        "amount_collar_factor": Loosens.RAISE_OR_REMOVE,
    },
)
# Caps across all domains (one row, no key): off while empty.
FIRM_POLICY = PolicyContract(
    model=FirmRiskPolicy,
    lever=Lever.RISK,
    title="firm-wide risk policy",
    keys=(),
    fields=("max_open_exposure", "max_daily_loss"),
    loosening={"max_open_exposure": Loosens.RAISE_OR_REMOVE, "max_daily_loss": Loosens.RAISE_OR_REMOVE},
)


EXPIRY_ACTOR = "risk/expiry"


class RiskDenied(ServiceError):
    """Raised by `reserve_or_raise` when the Risk Guard says no; `reason` is the reason code.

    Left to the shared DRF exception handler, it answers 423 like the Go-Live refusal.
    """

    status_code = 423

    def __init__(self, reservation: Reservation):
        reason = reservation.answer_reason
        super().__init__(f"Risk Guard denied {reservation.domain}: {reason}", reason=reason)
        self.reservation = reservation


# Input ---------------------------------------------------------------------------------------


def _model_value(model: type[models.Model], name: str, value, *, label: str | None = None):
    """`value` converted and checked by the model field `name`; InvalidInput naming `label` if not."""
    label = label or name
    if isinstance(value, bool | float):  # a boolean is not a number; a float is not money
        raise InvalidInput(f"{label}: must be a string or an integer, not {type(value).__name__}", field=label)
    try:
        return model._meta.get_field(name).clean(value, None)
    except ValidationError as exc:
        raise InvalidInput(f"{label}: {exc.messages[0]}", field=label) from exc


def _text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name}: must be a non-empty string", field=name)
    return _model_value(Reservation, name, value.strip())


# Policies ------------------------------------------------------------------------------------


def upsert_policy(
    *, domain: str, changes: Mapping[str, object], actor, reason: str = "", version: str | None = None
) -> tuple[RiskPolicy, bool]:
    """Create the domain's policy or change the given fields of it; audited. Returns (policy, created)."""
    return POLICY.upsert(key={"domain": domain}, changes=changes, actor=actor, reason=reason, version=version)


def set_enabled(*, domain: str, enabled: bool, reason: str, actor) -> RiskPolicy:
    """Enable or disable a domain's risk policy (creating it if missing), with a reason; audited."""
    reason = required_reason(reason, what="enable or disable a risk policy")
    policy, _ = upsert_policy(domain=domain, changes={"enabled": enabled}, actor=actor, reason=reason)
    return policy


def upsert_firm_policy(
    *, changes: Mapping[str, object], actor, reason: str = "", version: str | None = None
) -> tuple[FirmRiskPolicy, bool]:
    """Set the firm-wide caps (all domains together); audited. Returns (policy, created)."""
    return FIRM_POLICY.upsert(key={}, changes=changes, actor=actor, reason=reason, version=version)


def throttle_domain(*, domain: str, reason: str, actor) -> RiskPolicy:
    """The tripwire's throttle: disable the domain's risk policy (creating a disabled one if none).
    Its audit reason starts with `reasons.THROTTLE_PREFIX`, which is how the throttle is told from
    an operator's disabling (`selectors.throttle`)."""
    return set_enabled(domain=domain, enabled=False, reason=f"{reasons.THROTTLE_PREFIX}{reason}", actor=actor)


# Reserve -------------------------------------------------------------------------------------


def reserve(
    *,
    domain: str,
    amount: Decimal | int | str,
    actor,
    idempotency_key: str | None = None,
    ref: str | None = None,
    model_version: str | None = None,
) -> Reservation:
    """Decide whether `domain` may take an action of `amount`; every decision is a ledger entry.

    The engine is `actor` (the authenticated principal); `model_version` the model acting, if any:
    a kill switch of the domain, the engine or the model version refuses it like the global one.

    Returns the entry: `status` RESERVED (approved, `expires_at` set) or DENIED (with `reason`).
    The same (domain, idempotency_key) returns the original entry and makes no second one (see
    `_replay` for what it then answers); reused with another amount or ref it is Unprocessable (422).
    """
    request = {
        "domain": DOMAIN.clean(domain),
        "amount": _model_value(Reservation, "amount", amount),
        "idempotency_key": _text("idempotency_key", idempotency_key),
        "ref": _text("ref", ref) or "",
    }
    version = _text("model_version", model_version) or ""
    if request["idempotency_key"] is not None:
        original = _original(**request)
        if original is not None:
            return _replay(original)
    try:
        with transaction.atomic():
            return _decide(**request, model_version=version, actor=actor)
    except IntegrityError:
        # A racing request with the same key was first: answer with its decision.
        original = _original(**request) if request["idempotency_key"] is not None else None
        if original is None:
            raise
        return _replay(original)


def _original(*, domain: str, amount: Decimal, idempotency_key: str, ref: str) -> Reservation | None:
    original = Reservation.objects.filter(domain=domain, idempotency_key=idempotency_key).first()
    if original is not None and (original.amount != amount or original.ref != ref):
        raise Unprocessable(
            "idempotency_key: already used for a reservation with another amount or ref.",
            field="idempotency_key",
            reason=reasons.IDEMPOTENCY_MISMATCH,
        )
    return original


def _replay(entry: Reservation) -> Reservation:
    """The original entry as it is now, never a fresh permission: a denial stays the first decision;
    an approval is `ok` only while it is open and production may execute, else `replay_refusal`
    says why (reasons.REPLAY_REFUSALS, first that applies). One past its expiry is expired now."""
    if entry.status == Status.DENIED:
        return entry
    if entry.status == Status.RESERVED and entry.expires_at <= timezone.now():
        with transaction.atomic():
            RiskPolicy.objects.select_for_update().filter(domain=entry.domain).first()
            _expire_domain(entry.domain, timezone.now())
        entry.refresh_from_db()
    if entry.status == Status.EXPIRED:
        entry.replay_refusal = reasons.RESERVATION_EXPIRED
    elif entry.status == Status.CANCELLED:
        entry.replay_refusal = entry.reason  # the cancel's reason; `detail` names the scope and who
    elif entry.status != Status.RESERVED:
        entry.replay_refusal = reasons.RESERVATION_CLOSED
    else:
        decision = golive.may_execute(domain=entry.domain, engine=entry.actor, model_version=entry.model_version)
        entry.replay_refusal = decision.reason or ""
    return entry


def _decide(
    *, domain: str, amount: Decimal, idempotency_key: str | None, ref: str, model_version: str, actor
) -> Reservation:
    # The domain's policy row is locked first: it serialises the domain's decisions, and the
    # production state, the time and the totals are read after it, so a reserve that waited for
    # the lock still sees a kill switch engaged meanwhile.
    policy = RiskPolicy.objects.select_for_update().filter(domain=domain).first()
    now = timezone.now()
    entry = Reservation(
        domain=domain,
        amount=amount,
        idempotency_key=idempotency_key,
        ref=ref,
        model_version=model_version,
        actor=audit.actor_name(actor),
        business_date=business_date(now),
    )
    reason, totals = _first_denial(entry, policy, now)
    if reason:
        entry.status, entry.reason = Status.DENIED, reason
        entry.detail = entry.detail or reason
        entry.save()
        return entry
    entry.status = Status.RESERVED
    entry.expires_at = now + dt.timedelta(seconds=policy.reservation_ttl_seconds)
    entry.save()
    totals.approved_count = F("approved_count") + 1
    totals.open_exposure = F("open_exposure") + amount
    totals.save(update_fields=["approved_count", "open_exposure"])
    return entry


def _first_denial(
    entry: Reservation, policy: RiskPolicy | None, now: dt.datetime
) -> tuple[str | None, DailyTotals | None]:
    """The first reason to deny `entry` (None: approve), with today's locked totals when read.

    The order is reasons.DENIAL_REASONS. A kill switch's refusal also names its scope and who
    engaged it in `entry.detail`.
    """
    decision = golive.may_execute(domain=entry.domain, engine=entry.actor, model_version=entry.model_version)
    if not decision.ok:
        entry.detail = decision.detail[: Reservation._meta.get_field("detail").max_length]
        return decision.reason, None
    if policy is None:
        return reasons.NO_POLICY, None
    if not policy.enabled:
        return reasons.POLICY_DISABLED, None
    reason = _pre_action_denial(entry, policy, now)
    if reason:
        return reason, None
    totals = _locked_totals(entry)
    # A policy stored before MAX_DAILY_ACTIONS existed may allow more: the bound holds regardless.
    if totals.approved_count + 1 > min(policy.max_daily_actions, MAX_DAILY_ACTIONS):
        return reasons.MAX_DAILY_ACTIONS, totals
    if not _has_room(entry, policy, now, open_exposure=totals.domain_open_exposure):
        return reasons.MAX_OPEN_EXPOSURE, totals
    if totals.net_loss >= policy.max_daily_loss:
        return reasons.MAX_DAILY_LOSS, totals
    return (_firm_denial(entry) if totals.firm_capped else None), totals


def _locked_totals(entry: Reservation) -> DailyTotals:
    """Today's totals of the entry's domain, locked (created when missing), read in one statement
    with what the rest of the decision needs: the domain's open exposure over all its days
    (`domain_open_exposure`) and whether a firm-wide cap is set (`firm_capped`; its row is locked
    only then, by `_firm_denial`)."""
    today = DailyTotals.objects.filter(domain=entry.domain, business_date=entry.business_date)
    open_exposure = _still_open(entry.domain).order_by().values("domain").annotate(s=Sum("open_exposure")).values("s")
    locked = today.select_for_update(of=("self",)).annotate(
        domain_open_exposure=Coalesce(Subquery(open_exposure), Decimal(0)),
        firm_capped=Exists(FirmRiskPolicy.objects.filter(_FIRM_CAPPED)),
    )
    totals = locked.first()
    if totals is None:  # the domain's first reserve of the day
        DailyTotals.objects.get_or_create(domain=entry.domain, business_date=entry.business_date)
        totals = locked.first()
    return totals


def _pre_action_denial(entry: Reservation, policy: RiskPolicy, now: dt.datetime) -> str | None:
    """Rate limits, duplicate suspicion, the one-action size and the amount collar, in that order.

    Counted over the domain's approved entries (any status but DENIED) under the domain's policy
    lock, so they are exact however many engines reserve at once.
    """
    approved = Reservation.objects.filter(domain=entry.domain).exclude(status=Status.DENIED)
    limits = (
        (policy.max_actions_per_second, 1, approved),
        (policy.max_actions_per_minute, 60, approved),
        (policy.max_engine_actions_per_minute, 60, approved.filter(actor=entry.actor)),
    )
    for limit, seconds, counted in limits:
        if limit is not None and counted.filter(created_at__gt=now - dt.timedelta(seconds=seconds)).count() >= limit:
            return reasons.RATE_LIMITED
    if (
        policy.duplicate_window_seconds is not None
        and approved.filter(
            actor=entry.actor,
            amount=entry.amount,
            ref=entry.ref,
            created_at__gt=now - dt.timedelta(seconds=policy.duplicate_window_seconds),
        ).exists()
    ):
        return reasons.DUPLICATE_SUSPECT
    if policy.max_action_amount is not None and entry.amount > policy.max_action_amount:
        return reasons.MAX_ACTION_AMOUNT
    if policy.amount_collar_factor is not None:
        recent = list(approved.order_by("-id").values_list("amount", flat=True)[: policy.amount_collar_sample])
        if len(recent) == policy.amount_collar_sample:
            median = statistics.median(recent)
            factor = policy.amount_collar_factor
            if entry.amount > median * factor or entry.amount < median / factor:
                return reasons.AMOUNT_OUTLIER
    return None


_FIRM_CAPPED = Q(max_open_exposure__isnull=False) | Q(max_daily_loss__isnull=False)


def _firm_denial(entry: Reservation) -> str | None:
    """The firm-wide caps, when set: all domains' open exposure with `entry`, and today's net loss.

    The firm row is locked (after the domain's policy), so approvals across domains are serialised
    while a firm cap is set; settles, releases and expiries only lower the exposure.
    """
    firm = FirmRiskPolicy.objects.filter(_FIRM_CAPPED).select_for_update().first()
    if firm is None:
        return None
    if firm.max_open_exposure is not None:
        open_exposure = DailyTotals.objects.filter(open_exposure__gt=0).aggregate(s=Sum("open_exposure"))["s"]
        if (open_exposure or Decimal(0)) + entry.amount > firm.max_open_exposure:
            return reasons.FIRM_EXPOSURE
    if firm.max_daily_loss is not None:
        pnl = DailyTotals.objects.filter(business_date=entry.business_date).aggregate(s=Sum("realized_pnl"))["s"]
        if net_loss(pnl or Decimal(0)) >= firm.max_daily_loss:
            return reasons.FIRM_DAILY_LOSS
    return None


def _has_room(entry: Reservation, policy: RiskPolicy, now: dt.datetime, *, open_exposure: Decimal) -> bool:
    """Does the domain's `open_exposure` leave room for `entry`? Expires the domain's due
    reservations if not, and looks again."""
    if open_exposure + entry.amount <= policy.max_open_exposure:
        return True
    if _expire_domain(entry.domain, now) == 0:
        return False
    open_exposure = _still_open(entry.domain).aggregate(s=Sum("open_exposure"))["s"] or Decimal(0)
    return open_exposure + entry.amount <= policy.max_open_exposure


def _still_open(domain: str):
    """The domain's daily totals that still have some exposure open (a few: today's and the days
    of reservations not closed yet); their sum is the domain's open exposure."""
    return DailyTotals.objects.filter(domain=domain, open_exposure__gt=0)


def reserve_or_raise(**request) -> Reservation:
    """`reserve` (same keyword arguments) before a production action, for in-process engines: the
    approved entry, or RiskDenied carrying the reason."""
    entry = reserve(**request)
    if not entry.ok:
        raise RiskDenied(entry)
    return entry


# Settle, release, expire ---------------------------------------------------------------------


def _close(*, reservation_id: int, status: Status, actor, realized_pnl: Decimal | None = None) -> Reservation:
    """Close an open entry as `status`: frees its exposure (on the day it was reserved) and books
    `realized_pnl` on today's business day.

    Only who reserved it, or an operator, may (else Forbidden, 403). The same close again returns
    the entry unchanged; any other change of a closed entry, or of one past its expiry, is a
    Conflict (409). The entry is locked after its domain's policy.
    """
    reservation_id = _model_value(Reservation, "id", reservation_id, label="reservation_id")
    # The entry's domain's policy locked in one statement (the domain never changes), then the entry.
    entry_domain = Reservation.objects.filter(pk=reservation_id).values("domain")
    RiskPolicy.objects.select_for_update().filter(domain=Subquery(entry_domain)).first()
    entry = Reservation.objects.select_for_update().filter(pk=reservation_id).first()
    if entry is None:
        raise NotFound(f"reservation_id: no reservation {reservation_id}.", field="reservation_id")
    _require_owner(entry, actor)
    if entry.status == status and entry.realized_pnl == realized_pnl:
        return entry
    now = timezone.now()
    if entry.status == Status.CANCELLED:
        return _close_cancelled(entry, status=status, realized_pnl=realized_pnl, now=now)
    if entry.status != Status.RESERVED:
        raise Conflict(
            f"reservation_id: reservation {entry.pk} is {entry.status}, not open.",
            field="reservation_id",
            reason=reasons.RESERVATION_CLOSED,
        )
    if entry.expires_at <= now:
        raise Conflict(
            f"reservation_id: reservation {entry.pk} expired at {entry.expires_at.isoformat()}.",
            field="reservation_id",
            reason=reasons.RESERVATION_EXPIRED,
        )
    entry.status, entry.realized_pnl, entry.settled_at, entry.settled_by = (
        status, realized_pnl, now, audit.actor_name(actor),
    )  # fmt: skip
    entry.save(update_fields=["status", "realized_pnl", "settled_at", "settled_by"])
    freed = {"open_exposure": F("open_exposure") - entry.amount}
    if realized_pnl and entry.business_date == business_date(now):  # reserved today: one row, one update
        freed["realized_pnl"] = F("realized_pnl") + realized_pnl
        realized_pnl = None
    DailyTotals.objects.filter(domain=entry.domain, business_date=entry.business_date).update(**freed)
    _book_pnl(entry.domain, realized_pnl, now)
    return entry


def _close_cancelled(entry: Reservation, *, status: Status, realized_pnl: Decimal | None, now) -> Reservation:
    """A close of a cancelled entry. Its exposure was freed by the cancellation; a settle still books
    its pnl (the action may have happened before the kill reached the engine) and flags the entry
    `settled_after_cancel`; a release changes nothing. The same settle again changes nothing."""
    if status == Status.RELEASED or (entry.settled_after_cancel and entry.realized_pnl == realized_pnl):
        return entry
    if entry.settled_after_cancel:
        raise Conflict(
            f"reservation_id: reservation {entry.pk} was cancelled and already settled with another pnl.",
            field="reservation_id",
            reason=reasons.RESERVATION_CLOSED,
        )
    entry.realized_pnl, entry.settled_after_cancel = realized_pnl, True
    entry.save(update_fields=["realized_pnl", "settled_after_cancel"])
    _book_pnl(entry.domain, realized_pnl, now)
    return entry


def _book_pnl(domain: str, realized_pnl: Decimal | None, now: dt.datetime) -> None:
    """The pnl counts on the business day it was realized (today), whatever day the action was
    reserved: a loss settled after midnight counts against today's max_daily_loss."""
    if not realized_pnl:
        return
    today = DailyTotals.objects.filter(domain=domain, business_date=business_date(now))
    if not today.update(realized_pnl=F("realized_pnl") + realized_pnl):  # no reserve of the domain today yet
        DailyTotals.objects.get_or_create(domain=domain, business_date=business_date(now))
        today.update(realized_pnl=F("realized_pnl") + realized_pnl)


def _require_owner(entry: Reservation, actor) -> None:
    """Only the principal that reserved `entry`, or an operator, may close it: Forbidden (403).

    The entry exists for every engine (the ledger lists it), so a stranger is told it is not
    theirs rather than that it does not exist."""
    is_operator = not isinstance(actor, str) and roles.is_operator(actor)  # a str: a named system actor
    if audit.actor_name(actor) != entry.actor and not is_operator:
        raise Forbidden(
            f"reservation_id: reservation {entry.pk} was reserved by another principal.",
            field="reservation_id",
            reason=reasons.NOT_RESERVATION_OWNER,
        )


@transaction.atomic
def settle(*, reservation_id: int, realized_pnl: Decimal | int | str, actor) -> Reservation:
    """The action happened: close the reservation with its realized pnl (negative is a loss)."""
    realized_pnl = _model_value(Reservation, "realized_pnl", realized_pnl)
    if realized_pnl is None:
        raise InvalidInput("realized_pnl: required.", field="realized_pnl")
    return _close(reservation_id=reservation_id, status=Status.SETTLED, actor=actor, realized_pnl=realized_pnl)


@transaction.atomic
def release(*, reservation_id: int, actor) -> Reservation:
    """The action did not happen: close the reservation, freeing its exposure, with no pnl."""
    return _close(reservation_id=reservation_id, status=Status.RELEASED, actor=actor)


def _free(due, **changes) -> int:
    """Close the open entries of `due` with `changes`, freeing their exposure on the day each was
    reserved; the caller holds the policy locks of their domains. Returns how many."""
    freed = list(due.values("domain", "business_date").annotate(amount=Sum("amount")))
    if not freed:
        return 0
    count = due.update(**changes)
    for day in freed:
        DailyTotals.objects.filter(domain=day["domain"], business_date=day["business_date"]).update(
            open_exposure=F("open_exposure") - day["amount"]
        )
    return count


def _expire_domain(domain: str, now: dt.datetime) -> int:
    """Expire the domain's reservations due by `now`; the caller holds the domain's policy lock."""
    due = Reservation.objects.filter(domain=domain, status=Status.RESERVED, expires_at__lte=now)
    return _free(due, status=Status.EXPIRED, settled_at=now, settled_by=EXPIRY_ACTOR)


def expire_due(*, now: dt.datetime | None = None) -> int:
    """Expire every reservation not settled by its `expires_at` (the beat task); returns how many."""
    now = now or timezone.now()
    domains = (
        Reservation.objects.filter(status=Status.RESERVED, expires_at__lte=now)
        .values_list("domain", flat=True)
        .distinct()
    )
    expired = 0
    for domain in list(domains):
        with transaction.atomic():
            RiskPolicy.objects.select_for_update().filter(domain=domain).first()
            expired += _expire_domain(domain, now)
    return expired


# Cancel-on-kill and cancel-on-disconnect -------------------------------------------------------

COVER_FIELD = {KillScope.DOMAIN: "domain", KillScope.ENGINE: "actor", KillScope.MODEL_VERSION: "model_version"}


def cancel_covered(*, cover: Mapping[str, str], reason_code: str, detail: str, switch, actor) -> int:
    """Cancel every open reservation matching `cover` (e.g. {"domain": "WHOLESALE"}, {} for all):
    status CANCELLED, exposure freed, `reason_code` and `detail` in the ledger, one audit event
    on `switch` (the kill switch or heartbeat that caused it) listing them. Returns how many.

    Runs inside the caller's transaction. Every policy row the cover may touch is locked first
    (domain order), so a reserve racing the kill either committed before (and is cancelled here)
    or waits and then sees the kill.
    """
    policies = RiskPolicy.objects.select_for_update().order_by("domain")
    if "domain" in cover:
        policies = policies.filter(domain=cover["domain"])
    list(policies.values_list("pk", flat=True))
    due = Reservation.objects.filter(status=Status.RESERVED, **cover)
    ids = sorted(due.values_list("pk", flat=True))
    if not ids:
        return 0
    now = timezone.now()
    count = _free(
        Reservation.objects.filter(pk__in=ids, status=Status.RESERVED),
        status=Status.CANCELLED,
        reason=reason_code,
        detail=detail[: Reservation._meta.get_field("detail").max_length],
        settled_at=now,
        settled_by=audit.actor_name(actor),
    )
    shown = ", ".join(f"#{pk}" for pk in ids[:50]) + (f" and {len(ids) - 50} more" if len(ids) > 50 else "")
    audit.record(
        actor=actor, lever=Lever.RISK, instance=switch, action="reservations.cancel", before=None,
        reason=f"{detail}: cancelled {count} open reservation(s): {shown}",
    )  # fmt: skip
    return count


def _on_kill(*, scope, target, switch, reason, actor, **kwargs) -> None:
    cover = {} if scope == KillScope.GLOBAL else {COVER_FIELD[scope]: target}
    label = KillScope.GLOBAL.value if scope == KillScope.GLOBAL else str(switch)
    detail = f"{reasons.KILL_SWITCH}, scope: {label}, by {audit.actor_name(actor)}: {reason}"
    cancel_covered(cover=cover, reason_code=reasons.KILL_SWITCH, detail=detail, switch=switch, actor=actor)


def _on_disconnect(*, engine, heartbeat, reason, actor, **kwargs) -> None:
    detail = f"{reasons.HEARTBEAT_MISSED}, scope: engine {engine}: {reason}"
    cancel_covered(cover={"actor": engine}, reason_code=reasons.HEARTBEAT_MISSED, detail=detail, switch=heartbeat,
                   actor=actor)  # fmt: skip


def connect_signals() -> None:
    """Called by RiskConfig.ready: a kill or a lapsed heartbeat cancels what it covers."""
    golive_signals.kill_engaged.connect(_on_kill, dispatch_uid="risk.cancel_on_kill")
    golive_signals.engine_disconnected.connect(_on_disconnect, dispatch_uid="risk.cancel_on_disconnect")
