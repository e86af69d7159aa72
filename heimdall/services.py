"""The Heimdall Charter: AI recommendations earn production through sandbox trials.

An engine records each sandbox trial (`record_trial`) and asks before acting in production
(`check_prod_eligible`, or `require_prod_eligible` which raises `NotProdEligible`):

    from heimdall import services as heimdall
    heimdall.require_prod_eligible(domain="WHOLESALE", confidence=0.91, model_version="offer-v3")
"""

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status

from golive import services as golive
from governance_site.audit.models import Lever
from governance_site.audit.services import actor_name, record, snapshot
from governance_site.changes import Loosens
from governance_site.errors import InvalidInput, ServiceError
from governance_site.identifiers import DOMAIN
from governance_site.policies import PolicyContract, first_error, required_reason

from . import reasons
from .models import HeimdallPolicy, ModelDemotion, SandboxTrial, validate_fraction

RATE_DECIMALS = 4

POLICY = PolicyContract(
    model=HeimdallPolicy,
    lever=Lever.HEIMDALL,
    title="Heimdall policy",
    keys=(DOMAIN,),
    fields=("enabled", "min_confidence_prod", "min_sandbox_trials", "min_success_rate", "trial_window_days"),
    loosening={
        "enabled": Loosens.TURN_ON,
        "min_confidence_prod": Loosens.LOWER,
        "min_sandbox_trials": Loosens.LOWER,
        "min_success_rate": Loosens.LOWER,
    },
)


@dataclass(frozen=True)
class TrialRecord:
    """Sandbox trials counted over some period, and how many succeeded."""

    trials: int = 0
    successes: int = 0

    @property
    def success_rate(self) -> float | None:
        """The share of trials that succeeded (0–1), or None without trials; exact, for decisions."""
        return self.successes / self.trials if self.trials else None

    @property
    def reported_rate(self) -> float | None:
        """`success_rate` rounded for answers and scorecards (0.6667, not 0.6666666666666666)."""
        return reported(self.success_rate)


def reported(rate: float | None) -> float | None:
    return None if rate is None else round(rate, RATE_DECIMALS)


@dataclass(frozen=True)
class Eligibility:
    """The answer to "may this recommendation reach production?".

    `trials` and `success_rate` are the domain's record over its policy window (None without a
    policy), given with every answer so that a "no" explains itself.
    """

    prod_eligible: bool
    reason: str | None
    trials: int | None
    success_rate: float | None
    detail: str | None = None  # a Go-Live refusal in words (the kill switch's scope and who), or a demotion


class NotProdEligible(ServiceError):
    """Raised by `require_prod_eligible`; `reason` is the reason code, `eligibility` the answer."""

    status_code = status.HTTP_423_LOCKED

    def __init__(self, eligibility: Eligibility):
        super().__init__(f"Not eligible for production: {eligibility.reason}.", reason=eligibility.reason)
        self.eligibility = eligibility


def _confidence(value) -> float:
    try:
        validate_fraction(value)
    except ValidationError as exc:
        raise InvalidInput(f"confidence: {exc.messages[0]}", field="confidence") from exc
    return float(value)


def in_window(policy: HeimdallPolicy, *, until: dt.datetime) -> Q:
    """The trials of `policy`'s domain that count at `until`: the last `trial_window_days` days."""
    since = until - dt.timedelta(days=policy.trial_window_days)
    return Q(domain=policy.domain, created_at__gte=since, created_at__lt=until)


def decide(
    *,
    gate: golive.Decision,
    policy: HeimdallPolicy | None,
    record: TrialRecord | None,
    confidence: float | None = None,
    demotion: ModelDemotion | None = None,
) -> Eligibility:
    """The rule, with the first reason that applies.

    `gate` is Go-Live's `may_execute()`, `record` the domain's trials over the policy window (for a
    demoted version: only those after its demotion), and `confidence` the recommendation's (None:
    at the policy's minimum). A demoted version short of trials or success rate is
    `demoted_by_tripwire`.
    """

    def answer(reason: str | None, detail: str | None = None) -> Eligibility:
        return Eligibility(
            prod_eligible=reason is None,
            reason=reason,
            trials=record.trials if record else None,
            success_rate=record.reported_rate if record else None,
            detail=detail,
        )

    if not gate.ok:
        return answer(gate.reason, gate.detail)
    if policy is None:
        return answer(reasons.NO_POLICY)
    if not policy.enabled:
        return answer(reasons.POLICY_DISABLED)
    if confidence is not None and confidence < policy.min_confidence_prod:
        return answer(reasons.CONFIDENCE_BELOW_MIN)
    if demotion is not None and (
        record.trials < policy.min_sandbox_trials or record.success_rate < policy.min_success_rate
    ):
        why = f"{demotion.model_version} demoted at {demotion.demoted_at.isoformat()} by {demotion.demoted_by}"
        return answer(reasons.DEMOTED_BY_TRIPWIRE, f"{why}: {demotion.reason}")
    if record.trials < policy.min_sandbox_trials:
        return answer(reasons.INSUFFICIENT_TRIALS)
    if record.success_rate < policy.min_success_rate:
        return answer(reasons.SUCCESS_RATE_BELOW_MIN)
    return answer(None)


def check_prod_eligible(
    *,
    domain: str,
    confidence: float,
    model_version: str | None = None,
    engine: str | None = None,
    now: dt.datetime | None = None,
) -> Eligibility:
    """May a recommendation of `domain` with `confidence` reach production now?

    Only trials within the policy's window count; with `model_version`, only that version's (a
    retrained model earns its own eligibility), and for a version a tripwire demoted only those
    made after the demotion. Every kill switch covering the domain, the `engine` or the version
    refuses. A "no" is an answer, not an error; bad input is an `InvalidInput` naming the field.
    """
    domain = DOMAIN.clean(domain)
    confidence = _confidence(confidence)
    now = now or timezone.now()
    policy = HeimdallPolicy.objects.filter(domain=domain).first()
    record = demotion = None
    if policy is not None:
        trials = SandboxTrial.objects.filter(in_window(policy, until=now))
        if model_version:
            trials = trials.filter(model_version=model_version)
            demotion = ModelDemotion.objects.filter(domain=domain, model_version=model_version).first()
            if demotion is not None:
                trials = trials.filter(created_at__gt=demotion.demoted_at)
        record = TrialRecord(**trials.tally())
    gate = golive.may_execute(domain=domain, engine=engine, model_version=model_version)
    return decide(gate=gate, policy=policy, record=record, confidence=confidence, demotion=demotion)


def require_prod_eligible(
    *, domain: str, confidence: float, model_version: str | None = None, engine: str | None = None
) -> Eligibility:
    """`check_prod_eligible`, raising `NotProdEligible` (carrying the reason) on a "no"."""
    eligibility = check_prod_eligible(domain=domain, confidence=confidence, model_version=model_version, engine=engine)
    if not eligibility.prod_eligible:
        raise NotProdEligible(eligibility)
    return eligibility


def record_trial(
    *,
    domain: str,
    confidence: float,
    success: bool,
    actor,
    model_version: str | None = None,
    recommendation_ref: str | None = None,
) -> SandboxTrial:
    """Append one sandbox trial of `domain` (recorded with or without a policy)."""
    trial = SandboxTrial(
        domain=DOMAIN.clean(domain),
        confidence=_confidence(confidence),
        success=success,
        model_version=model_version or "",
        recommendation_ref=recommendation_ref or "",
        actor=actor_name(actor),
    )
    try:
        trial.full_clean()
    except ValidationError as exc:
        raise first_error(exc) from exc
    trial.save()
    return trial


def upsert_policy(
    *, domain: str, changes: dict, actor, reason: str = "", version: str | None = None
) -> tuple[HeimdallPolicy, bool]:
    """Create `domain`'s policy (defaults for what `changes` leaves out) or change it; audited.

    Returns (policy, created).
    """
    return POLICY.upsert(key={"domain": domain}, changes=changes, actor=actor, reason=reason, version=version)


@transaction.atomic
def demote_model_version(*, domain: str, model_version: str, reason: str, actor) -> ModelDemotion:
    """Take `model_version` of `domain` out of production: it is `demoted_by_tripwire` until sandbox
    trials made from now on earn it back. Other versions keep their eligibility. Audited
    `model_version.demote`; demoting again restarts the count."""
    reason = required_reason(reason, what="demote a model version")
    domain = DOMAIN.clean(domain)
    if not isinstance(model_version, str) or not model_version.strip() or len(model_version.strip()) > 64:
        raise InvalidInput("model_version: a non-empty string of at most 64 characters.", field="model_version")
    model_version = model_version.strip()
    ModelDemotion.objects.get_or_create(
        domain=domain, model_version=model_version, defaults={"demoted_at": timezone.now(), "demoted_by": ""}
    )
    demotion = ModelDemotion.objects.select_for_update().get(domain=domain, model_version=model_version)
    before = snapshot(demotion) if demotion.demoted_by else None
    demotion.demoted_at, demotion.reason = timezone.now(), reason
    demotion.demoted_by = demotion.changed_by = actor_name(actor)
    demotion.save()
    record(actor=actor, lever=Lever.HEIMDALL, instance=demotion, action="model_version.demote", before=before,
           reason=reason)  # fmt: skip
    return demotion
