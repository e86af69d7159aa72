from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from governance_site.audit.models import Stamped


class ExecutionClass(models.TextChoices):
    SANDBOX = "SANDBOX"
    PROD_READ = "PROD_READ"
    PROD_EXEC = "PROD_EXEC"


class GoLiveState(Stamped):
    """The one production on/off row (pk=1), created by migration with production off."""

    SINGLETON_PK = 1

    go_live_enabled = models.BooleanField(default=False)
    kill_switch_engaged = models.BooleanField(default=False)
    reason = models.TextField(blank=True)

    class Meta:
        verbose_name = "go-live state"
        verbose_name_plural = "go-live state"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="golive_state_singleton")]

    def __str__(self):
        return "Production state"

    @property
    def status_label(self) -> str:
        if self.kill_switch_engaged:
            return "KILL SWITCH ENGAGED"
        return "LIVE" if self.go_live_enabled else "GO-LIVE OFF"


class KillScope(models.TextChoices):
    """The scopes of a kill switch, widest first: a wider kill covers every narrower one."""

    GLOBAL = "global", "Global (all production)"
    DOMAIN = "domain", "One domain"
    ENGINE = "engine", "One engine (the authenticated principal)"
    MODEL_VERSION = "model_version", "One model version"


class ScopedKill(Stamped):
    """A kill switch narrower than the global one (kept on GoLiveState): one domain, engine or model
    version. Engaging it refuses that scope's production and cancels its open reservations;
    releasing it never touches a wider one."""

    scope = models.CharField(max_length=16, choices=[c for c in KillScope.choices if c[0] != KillScope.GLOBAL])
    target = models.CharField(max_length=150, help_text="The domain, engine (username) or model version.")
    engaged = models.BooleanField(default=False)
    reason = models.TextField(blank=True)

    class Meta:
        verbose_name = "scoped kill switch"
        ordering = ["scope", "target"]
        constraints = [models.UniqueConstraint(fields=["scope", "target"], name="golive_scoped_kill_scope_target")]
        indexes = [models.Index(fields=["scope", "target"], condition=models.Q(engaged=True), name="golive_kill_on")]

    def __str__(self):
        return f"{self.scope} {self.target}"


class EngineHeartbeat(Stamped):
    """An engine's heartbeat: silent longer than `max_silence_seconds`, it is refused and its open
    reservations are cancelled (cancel-on-disconnect) until it beats again."""

    engine = models.CharField(max_length=150, unique=True, help_text="The engine's username.")
    max_silence_seconds = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(24 * 3600)]
    )
    last_beat_at = models.DateTimeField()
    lapsed_at = models.DateTimeField(null=True, blank=True, help_text="When it was found silent; empty: connected.")

    class Meta:
        verbose_name = "engine heartbeat"
        ordering = ["engine"]

    def __str__(self):
        return f"heartbeat {self.engine}"

    def silent_at(self, now) -> bool:
        """Is the engine disconnected at `now`: found silent, or silent past its allowance already?"""
        return self.lapsed_at is not None or (now - self.last_beat_at).total_seconds() > self.max_silence_seconds
