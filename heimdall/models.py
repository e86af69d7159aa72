"""Heimdall Charter: one gate policy per domain, and the append-only record of sandbox trials."""

import math

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone

from governance_site.audit.models import AppendOnlyModel, AppendOnlyQuerySet, Stamped
from governance_site.identifiers import DOMAIN

MAX_TRIAL_WINDOW_DAYS = 365


def validate_fraction(value) -> None:
    """A finite number from 0 to 1 inclusive (NaN and infinities are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError("must be a finite number from 0 to 1")
    if not 0 <= value <= 1:
        raise ValidationError("must be from 0 to 1")


def _fraction_constraint(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__gte": 0.0, f"{field}__lte": 1.0}), name=name)


class DomainModel(models.Model):
    domain = models.CharField(max_length=64, help_text="Upper-case letters, digits and _; e.g. WHOLESALE.")

    class Meta:
        abstract = True

    def clean(self):
        super().clean()
        try:
            self.domain = DOMAIN.normalize(self.domain)
        except ValueError as exc:
            raise ValidationError({"domain": str(exc)}) from exc


def _fraction_field(default: float, help_text: str) -> models.FloatField:
    return models.FloatField(default=default, validators=[validate_fraction], help_text=help_text)


class HeimdallPolicy(DomainModel, Stamped):
    """The gates a domain's AI recommendations pass before they may reach production."""

    enabled = models.BooleanField(default=False, help_text="Off: nothing of this domain is eligible.")
    min_confidence_prod = _fraction_field(
        0.80, "A recommendation below this confidence (0–1) never reaches production."
    )
    min_sandbox_trials = models.PositiveIntegerField(
        default=20,
        validators=[MinValueValidator(1)],
        help_text="Sandbox trials needed within the window before anything is eligible.",
    )
    min_success_rate = _fraction_field(0.80, "Share (0–1) of the window's sandbox trials that must have succeeded.")
    trial_window_days = models.PositiveIntegerField(
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TRIAL_WINDOW_DAYS)],
        help_text="Only sandbox trials of the last this many days count.",
    )

    class Meta:
        verbose_name = "Heimdall policy"
        verbose_name_plural = "Heimdall policies"
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["domain"], name="heimdall_policy_one_per_domain"),
            _fraction_constraint("min_confidence_prod", "heimdall_policy_min_confidence_0_1"),
            _fraction_constraint("min_success_rate", "heimdall_policy_min_success_rate_0_1"),
            models.CheckConstraint(condition=Q(min_sandbox_trials__gte=1), name="heimdall_policy_min_trials_positive"),
            models.CheckConstraint(
                condition=Q(trial_window_days__gte=1, trial_window_days__lte=MAX_TRIAL_WINDOW_DAYS),
                name="heimdall_policy_window_days_range",
            ),
        ]

    def __str__(self):
        return f"Heimdall policy {self.domain}"


class SandboxTrialQuerySet(AppendOnlyQuerySet):
    def tally(self) -> dict:
        """{"trials": n, "successes": k} over this queryset."""
        return self.aggregate(trials=Count("pk"), successes=Count("pk", filter=Q(success=True)))


class SandboxTrial(AppendOnlyModel, DomainModel):
    """One AI recommendation tried in the sandbox, and whether it succeeded. Append-only."""

    model_version = models.CharField(max_length=64, blank=True, help_text="Empty when not given.")
    recommendation_ref = models.CharField(max_length=128, blank=True)
    confidence = models.FloatField(validators=[validate_fraction])
    success = models.BooleanField()
    actor = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = SandboxTrialQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "Trials of a domain since T" (every version), and "of a domain and version since T".
            models.Index(fields=["domain", "created_at"], name="heimdall_trial_domain_time"),
            models.Index(fields=["domain", "model_version", "created_at"], name="heimdall_trial_version_time"),
            # The scorecard's days across every domain, and the admin's date filter.
            models.Index(fields=["created_at"], name="heimdall_trial_time"),
        ]
        constraints = [_fraction_constraint("confidence", "heimdall_trial_confidence_0_1")]

    def __str__(self):
        version = f" {self.model_version}" if self.model_version else ""
        return f"{self.domain}{version} trial {'succeeded' if self.success else 'failed'}"


class ModelDemotion(DomainModel, Stamped):
    """A model version the Regression Tripwire demoted: back to the sandbox, eligible again only on
    sandbox trials made after `demoted_at`. Other versions of the domain are not touched."""

    model_version = models.CharField(max_length=64)
    demoted_at = models.DateTimeField()
    demoted_by = models.CharField(max_length=150)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-demoted_at"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "model_version"], name="heimdall_demotion_domain_version")
        ]

    def __str__(self):
        return f"{self.domain} {self.model_version} demoted"
