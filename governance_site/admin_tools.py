"""Admin building blocks shared by the levers: the reason form and the append-only record admin."""

from django import forms


class ReasonForm(forms.Form):
    """The reason an operator gives on a confirmation page; it goes to the audit trail."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=2000,
        help_text="Recorded in the audit trail with your name.",
    )


class AppendOnlyAdminMixin:
    """For records the services write and nobody edits (audit events, ledger entries, KPI events,
    trials): viewable and filterable, never added, changed or deleted through the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
