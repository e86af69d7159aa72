from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from governance_site.audit.models import Stamped
from governance_site.identifiers import DOMAIN

from . import reasons

MONEY = {"max_digits": 20, "decimal_places": 4}

# Bounds that keep every daily total inside MONEY (16 integer digits: below 10**16), so no settle
# or reserve can overflow a day's totals and wedge it. A day's `approved_count` never exceeds
# MAX_DAILY_ACTIONS (every approval checks the policy's cap, itself at most that). A day's
# `open_exposure` is the sum of at most MAX_DAILY_ACTIONS amounts of at most MAX_AMOUNT: 10**15.
# A day's `realized_pnl` sums the settles booked that day, of reservations made that day or
# before; a reservation lives at most 7 days (reservation_ttl_seconds), which spans at most 9
# business dates (a DST change adds an hour), so at most 9 * MAX_DAILY_ACTIONS settles of
# |pnl| <= MAX_AMOUNT: 9 * 10**6 * 10**9 = 9 * 10**15 = MAX_TOTAL < 10**16.
MAX_AMOUNT = Decimal(10**9)
MAX_DAILY_ACTIONS = 10**6
MAX_TOTAL = 9 * MAX_DAILY_ACTIONS * MAX_AMOUNT


# These skip NaN and infinities, which the DecimalField's own validator refuses with a message.
def validate_positive(value: Decimal) -> None:
    if value.is_finite() and value <= 0:
        raise ValidationError("must be greater than 0")


def validate_not_negative(value: Decimal) -> None:
    if value.is_finite() and value < 0:
        raise ValidationError("must be 0 or more")


def validate_within_bound(value: Decimal) -> None:
    if value.is_finite() and abs(value) > MAX_AMOUNT:
        raise ValidationError(f"must be between -{MAX_AMOUNT} and {MAX_AMOUNT}")


def net_loss(realized_pnl: Decimal) -> Decimal:
    """A day's net realized loss: minus its pnl when that is negative, else 0."""
    return max(-realized_pnl, Decimal(0))


class RiskPolicy(Stamped):
    """One domain's daily caps. A cap of 0 allows nothing; a domain without a policy is denied."""

    domain = models.CharField(max_length=64, unique=True, validators=[DOMAIN.validator])
    enabled = models.BooleanField(default=False, help_text="A new policy starts disabled until its caps are set.")
    max_daily_loss = models.DecimalField(**MONEY, default=Decimal(0), validators=[validate_not_negative])
    max_open_exposure = models.DecimalField(**MONEY, default=Decimal(0), validators=[validate_not_negative])
    max_daily_actions = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(MAX_DAILY_ACTIONS)])
    max_action_amount = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        validators=[validate_positive, validate_within_bound],
        help_text="The largest single action (the fat-finger limit); empty: no limit.",
    )
    reservation_ttl_seconds = models.PositiveIntegerField(
        default=900, validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 3600)]
    )
    # Pre-action checks: each off while empty.
    max_actions_per_second = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Domain rate limit; empty: none."
    )
    max_actions_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Domain rate limit; empty: none."
    )
    max_engine_actions_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Each engine's rate in this domain."
    )
    duplicate_window_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 3600)],
        help_text="The same engine, amount and ref again within this many seconds is a duplicate suspect.",
    )
    amount_collar_factor = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(1))],
        help_text="Deny an amount above median × this or below median ÷ this; empty: no collar.",
    )
    amount_collar_sample = models.PositiveIntegerField(
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="The median is of the domain's last this many approved amounts (no collar until there are).",
    )

    class Meta:
        verbose_name = "risk policy"
        verbose_name_plural = "risk policies"
        ordering = ["domain"]

    def __str__(self):
        return self.domain


class Status(models.TextChoices):
    RESERVED = "RESERVED"
    SETTLED = "SETTLED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    DENIED = "DENIED"
    CANCELLED = "CANCELLED"  # by a kill switch covering it, or its engine's lapsed heartbeat


class Reservation(models.Model):
    """A ledger entry: one reserve decision (approved or denied) and what became of it."""

    domain = models.CharField(max_length=64, validators=[DOMAIN.validator])
    amount = models.DecimalField(**MONEY, validators=[validate_positive, validate_within_bound])
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.CharField(
        max_length=32,
        blank=True,
        choices=[(r, r) for r in reasons.DENIAL_REASONS],
        help_text="Why denied, or why cancelled.",
    )
    detail = models.CharField(
        max_length=500, blank=True, help_text="A refusal or cancellation in words: the scope and who engaged it."
    )
    model_version = models.CharField(max_length=64, blank=True, help_text="The model version acting, if given.")
    settled_after_cancel = models.BooleanField(
        default=False, help_text="Settled after it was cancelled: the action happened anyway."
    )
    realized_pnl = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[validate_within_bound], help_text="Negative is a loss."
    )
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    ref = models.CharField(max_length=255, blank=True, help_text="The engine's own id for the action.")
    actor = models.CharField(max_length=150)
    business_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was closed: settled, released or expired."
    )
    settled_by = models.CharField(max_length=150, blank=True, help_text="Who closed it.")

    class Meta:
        verbose_name = "ledger entry"
        verbose_name_plural = "ledger entries"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="risk_reservation_idempotency_key",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="risk_reservation_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["business_date", "domain", "status"], name="risk_res_day_domain_status"),
            models.Index(
                fields=["domain", "expires_at"],
                condition=models.Q(status="RESERVED"),
                name="risk_res_open_expiry",
            ),
            # Operators look an entry up by the engine's id or the idempotency key (admin search).
            models.Index(fields=["ref"], condition=~models.Q(ref=""), name="risk_res_ref"),
            models.Index(
                fields=["idempotency_key"], condition=models.Q(idempotency_key__isnull=False), name="risk_res_idem_key"
            ),
            # Pre-action checks: a domain's (and an engine's) approved actions of the last seconds.
            models.Index(fields=["domain", "created_at"], condition=~models.Q(status="DENIED"), name="risk_res_recent"),
            models.Index(
                fields=["domain", "actor", "created_at"],
                condition=~models.Q(status="DENIED"),
                name="risk_res_recent_engine",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.domain} {self.amount} {self.status}"

    # Set (not stored) by `risk.services.reserve` when it answers a replayed idempotency key with
    # an entry that must not read as a permission to act now: one of reasons.REPLAY_REFUSALS.
    replay_refusal = ""

    @property
    def ok(self) -> bool:
        """The answer to a reserve: approved and not cancelled, and (for a replay) still open while
        production may execute: a replay of a cancelled reservation is never ok."""
        return self.status not in (Status.DENIED, Status.CANCELLED) and not self.replay_refusal

    @property
    def answer_reason(self) -> str | None:
        """Why a reserve's answer is not ok: the denial's reason, or the replay's refusal."""
        return self.replay_refusal or self.reason or None

    @property
    def is_open(self) -> bool:
        return self.status == Status.RESERVED


class DailyTotals(models.Model):
    """Running totals of a domain's approved reservations of one business day.

    Kept by the services as entries change, so that a reserve reads one row instead of summing
    the day's entries. `open_exposure` is the amount of that day's entries still RESERVED.
    """

    domain = models.CharField(max_length=64)
    business_date = models.DateField()
    approved_count = models.PositiveIntegerField(default=0)
    open_exposure = models.DecimalField(**MONEY, default=Decimal(0))
    realized_pnl = models.DecimalField(**MONEY, default=Decimal(0))

    class Meta:
        verbose_name_plural = "daily totals"
        constraints = [
            models.UniqueConstraint(fields=["domain", "business_date"], name="risk_totals_domain_day"),
        ]
        indexes = [
            models.Index(fields=["domain"], condition=models.Q(open_exposure__gt=0), name="risk_totals_open_exposure"),
        ]

    def __str__(self):
        return f"{self.domain} {self.business_date}"

    @property
    def net_loss(self) -> Decimal:
        return net_loss(self.realized_pnl)


class FirmRiskPolicy(Stamped):
    """Caps across all domains together (one row). Each off while empty."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    max_open_exposure = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[validate_not_negative], help_text="All domains' open exposure."
    )
    max_daily_loss = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[validate_not_negative], help_text="All domains' net loss today."
    )

    class Meta:
        verbose_name = "firm-wide risk policy"
        verbose_name_plural = "firm-wide risk policy"
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="risk_firm_policy_singleton")]

    def __str__(self):
        return "Firm-wide caps"
