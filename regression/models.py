"""KPI events (append-only), one tripwire policy per (domain, metric), and each policy's state."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance_site.audit.models import AppendOnlyModel, Stamped
from governance_site.identifiers import DOMAIN, METRIC
from regression.detectors import DEFAULT_FALSE_ALARM_EVENTS

MAX_EVENTS = 100_000  # the largest window or baseline a policy may ask for
MIN_FALSE_ALARM_EVENTS, MAX_FALSE_ALARM_EVENTS = 100, 1_000_000_000


class PolicyKind(models.TextChoices):
    SUCCESS_RATE = "SUCCESS_RATE", "Success rate (share of events with success true)"
    MEAN_VALUE = "MEAN_VALUE", "Mean value"


KIND_FIELD = {PolicyKind.SUCCESS_RATE: "success", PolicyKind.MEAN_VALUE: "value"}  # the KPI field each kind reads


class PolicyAction(models.TextChoices):
    THROTTLE = "THROTTLE", "Throttle (disable the domain's risk policy)"
    KILL_DOMAIN = "KILL_DOMAIN", "Kill the domain (its kill switch; cancels its open reservations)"
    KILL_SWITCH = "KILL_SWITCH", "Kill switch (stop all production)"
    DEMOTE = "DEMOTE", "Demote the model version (Heimdall link)"  # taken, never chosen: see heimdall_link


# The actions a policy may choose (DEMOTE is taken through heimdall_link, never chosen).
CHOSEN_ACTIONS = [choice for choice in PolicyAction.choices if choice[0] != PolicyAction.DEMOTE]


class Detector(models.TextChoices):
    SEQUENTIAL = "sequential", "Sequential (CUSUM, calibrated false-alarm budget; the default)"
    WINDOW_DROP = "window_drop", "Window drop (the spec's rule: noise-prone, no false-alarm control)"


class PolicyMode(models.TextChoices):
    ENFORCE = "enforce", "Enforce (a trip takes the action)"
    DRY_RUN = "dry_run", "Dry run (a trip records what it would have done, and never acts)"


class TripwireStatus(models.TextChoices):
    OK = "ok"
    TRIGGERED = "triggered"
    INSUFFICIENT_DATA = "insufficient_data"
    RELEARNING = "relearning"  # a new epoch (after a reset) learning its reference
    UNDECIDABLE = "undecidable"  # the reference cannot carry a relative drop (about zero)
    STALE = "stale"  # no event for longer than the policy's stale_after_hours
    DISABLED = "disabled"
    # Reset while the last evaluation's drop was still past the threshold: the latch is released,
    # and the next evaluation triggers again unless the cause is fixed.
    BREACHING = "breaching"


class KpiEvent(AppendOnlyModel):
    """One business outcome an engine reported. Never changed once stored."""

    domain = models.CharField(max_length=64, validators=[DOMAIN.validator])
    metric = models.CharField(max_length=64, validators=[METRIC.validator])
    success = models.BooleanField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    actor = models.CharField(max_length=150, help_text="Who recorded it: the authenticated principal.")
    reported_by = models.CharField(
        max_length=150,
        blank=True,
        default="",
        db_default="",
        help_text="The engine's own label for the component that reported it (the API's `actor`); not verified.",
    )
    # The engine's idempotency key: the same event_id again returns the stored event.
    event_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    model_version = models.CharField(max_length=64, blank=True, default="", help_text="The model that acted, if given.")
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "KPI event"
        constraints = [
            models.CheckConstraint(
                condition=Q(success__isnull=False) | Q(value__isnull=False), name="kpi_success_or_value"
            ),
        ]
        # "The latest N events of (domain, metric) that carry the field a policy's kind needs":
        # one partial index per kind, so an evaluation walks exactly the rows it uses, newest first.
        indexes = [
            models.Index(
                fields=["domain", "metric", "occurred_at", "id"],
                condition=Q(success__isnull=False),
                name="kpi_latest_success",
            ),
            models.Index(
                fields=["domain", "metric", "occurred_at", "id"],
                condition=Q(value__isnull=False),
                name="kpi_latest_value",
            ),
            # "A period's events, every kind": the control-plane review's one pass over its period
            # reads only this index (an index-only scan of the period's entries; without it, a
            # scan of the whole table, which grows with every day kept).
            models.Index(
                fields=["occurred_at"], include=["domain", "metric", "actor", "success", "value"], name="kpi_period"
            ),
        ]

    def __str__(self):
        outcome = self.value if self.success is None else self.success
        return f"{self.domain}.{self.metric} {outcome} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class RegressionPolicy(Stamped):
    """When the recent window of a KPI has dropped too far below its baseline, and what to do then."""

    domain = models.CharField(max_length=64, validators=[DOMAIN.validator])
    metric = models.CharField(max_length=64, validators=[METRIC.validator])
    enabled = models.BooleanField(default=False)
    kind = models.CharField(max_length=16, choices=PolicyKind.choices, default=PolicyKind.SUCCESS_RATE)
    window_events = models.PositiveIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(MAX_EVENTS)]
    )
    baseline_events = models.PositiveIntegerField(
        default=200, validators=[MinValueValidator(1), MaxValueValidator(MAX_EVENTS)]
    )
    lookback_days = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1), MaxValueValidator(3650)])
    max_drop_fraction = models.FloatField(default=0.20, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    action = models.CharField(
        max_length=16,
        choices=CHOSEN_ACTIONS,
        default=PolicyAction.THROTTLE,
    )
    heimdall_link = models.BooleanField(
        default=False,
        help_text="When the window's events carry model_version: demote the versions whose own window dropped "
        "past the threshold (Heimdall), instead of the action; the domain and its other versions keep running.",
    )
    detector = models.CharField(max_length=16, choices=Detector.choices, default=Detector.SEQUENTIAL)
    mode = models.CharField(max_length=16, choices=PolicyMode.choices, default=PolicyMode.ENFORCE)
    false_alarm_events = models.PositiveIntegerField(
        default=DEFAULT_FALSE_ALARM_EVENTS,
        validators=[MinValueValidator(MIN_FALSE_ALARM_EVENTS), MaxValueValidator(MAX_FALSE_ALARM_EVENTS)],
        help_text="Sequential detector: on average this many events between false trips on a stable KPI "
        "(its in-control average run length; the decision interval is computed from it).",
    )
    stale_after_hours = models.PositiveIntegerField(
        default=48,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 3650)],
        help_text="No event for this long: status stale (said and logged, never a throttle).",
    )

    class Meta:
        verbose_name = "tripwire policy"
        verbose_name_plural = "tripwire policies"
        ordering = ["domain", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "metric"], name="regression_policy_domain_metric"),
            models.CheckConstraint(
                condition=Q(window_events__gte=1, baseline_events__gte=1, lookback_days__gte=1),
                name="regression_policy_counts_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_drop_fraction__gte=0, max_drop_fraction__lte=1),
                name="regression_policy_fraction_0_1",
            ),
        ]

    def __str__(self):
        return f"{self.domain}.{self.metric}"


class RegressionState(models.Model):
    """The latest evaluation of one policy, and its latch: once triggered, it stays until reset."""

    policy = models.OneToOneField(RegressionPolicy, on_delete=models.CASCADE, related_name="state")
    status = models.CharField(max_length=20, choices=TripwireStatus.choices, default=TripwireStatus.INSUFFICIENT_DATA)
    triggered = models.BooleanField(default=False)
    baseline_rate = models.FloatField(null=True, blank=True)
    current_rate = models.FloatField(null=True, blank=True)
    drop_fraction = models.FloatField(null=True, blank=True)
    window_count = models.PositiveIntegerField(default=0)
    baseline_count = models.PositiveIntegerField(default=0)
    action_taken = models.CharField(max_length=16, choices=PolicyAction.choices, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True, help_text="When the cascade last escalated it.")
    chain = models.TextField(blank=True, help_text="What automation did, in order (trigger, escalations).")
    acknowledged_by = models.CharField(
        max_length=150, blank=True, help_text="The operator who acknowledged its throttle (blast-radius cap)."
    )
    evaluated_at = models.DateTimeField(null=True, blank=True)
    evaluated_by = models.CharField(max_length=150, blank=True)
    # The sequential detector, kept between evaluations: it sees every event of the epoch once.
    epoch = models.PositiveIntegerField(default=1)
    epoch_started_at = models.DateTimeField(null=True, blank=True)  # None: the first epoch (from the lookback)
    detector_state = models.JSONField(default=dict, blank=True)  # detectors.Carry
    processed_at = models.DateTimeField(null=True, blank=True)  # the last event judged: (occurred_at, id)
    processed_id = models.BigIntegerField(null=True, blank=True)
    seen_id = models.BigIntegerField(default=0)  # the highest event id any evaluation has read
    late_events = models.PositiveIntegerField(default=0)  # arrived older than what was already judged
    statistic = models.FloatField(null=True, blank=True)  # the CUSUM now
    threshold = models.FloatField(null=True, blank=True)  # its decision interval
    explanation = models.JSONField(default=dict, blank=True)  # the verdict's numbers (see services.explain)
    would_have_taken = models.CharField(max_length=16, choices=PolicyAction.choices, blank=True)  # dry run
    rebaseline_undo = models.JSONField(null=True, blank=True)  # the detector as it was before a rebaseline
    evaluation_queued = models.BooleanField(default=False)  # an evaluation on ingest is waiting for a worker

    class Meta:
        verbose_name = "tripwire"  # one name on every screen: the state of a tripwire is the tripwire
        verbose_name_plural = "tripwires"
        ordering = ["policy__domain", "policy__metric"]

    def __str__(self):
        return f"{self.policy} {self.status}"


class CascadePolicy(Stamped):
    """How tripwire actions escalate (one row; each rule off while empty).

    `max_throttled_domains`: that many domains throttled at once engages the global kill switch.
    `stabilisation_seconds`: a throttled domain whose tripwire still breaches, on new events, that
    long after its throttle is killed (KILL_DOMAIN); a killed domain still breaching that long after
    its kill engages the global kill switch. `blast_radius`: automation may throttle at most that
    many domains without an operator's acknowledgement; beyond it, it engages the kill switch
    instead of throttling one more.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    max_throttled_domains = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    stabilisation_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(30 * 24 * 3600)]
    )
    blast_radius = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = "tripwire cascade"
        verbose_name_plural = "tripwire cascade"
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(id=1), name="regression_cascade_singleton")]

    def __str__(self):
        return "Tripwire cascade"
