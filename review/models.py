"""The operators' sign-offs of the control-plane review: who reviewed which period, when, and what they noted."""

from django.conf import settings
from django.db import models

from governance_site.audit.models import AppendOnlyModel


class ReviewSignOff(AppendOnlyModel):
    """ "This review is done": the business days it covered and the reviewer's note. Never changed;
    the next review starts where the latest one ended."""

    since = models.DateField(help_text="The first business day the review covered.")
    until = models.DateField(help_text="The last business day the review covered.")
    note = models.TextField()
    signed_by = models.CharField(max_length=150)
    signed_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "completed review"
        verbose_name_plural = "completed reviews"
        ordering = ["-signed_at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(since__lte=models.F("until")), name="review_period")]

    def __str__(self):
        return f"Review {self.since:%Y-%m-%d} – {self.until:%Y-%m-%d}"
