from django.db import models


class ExecutionClass(models.TextChoices):
    SANDBOX = "SANDBOX"
    PROD_READ = "PROD_READ"
    PROD_EXEC = "PROD_EXEC"


class GoLiveState(models.Model):
    """The one production on/off row (pk=1), created by migration with production off."""

    SINGLETON_PK = 1

    go_live_enabled = models.BooleanField(default=False)
    kill_switch_engaged = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    changed_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

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
