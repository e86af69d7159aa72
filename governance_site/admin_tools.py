"""Admin building blocks shared by the levers: the reason form and the append-only record admin."""

from functools import cached_property

from django import forms
from django.core.paginator import Paginator
from django.db import connections
from django.utils.html import format_html


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


class EstimatedCountPaginator(Paginator):
    """Pages a big append-only table without counting it: an unfiltered listing on PostgreSQL takes
    the planner's row estimate (pg_class.reltuples, kept by autovacuum), which is shown as the
    number of results; filtered listings, small tables and other databases count exactly."""

    estimate_above = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                               [queryset.model._meta.db_table])  # fmt: skip
                row = cursor.fetchone()
            if row and row[0] > self.estimate_above:
                return row[0]
        return super().count


def badge(colour: str, text: str):
    """A status in white on `colour`, for list_display columns."""
    return format_html('<strong style="color:#fff;background:{};padding:2px 8px;border-radius:3px">{}</strong>',
                       colour, text)  # fmt: skip
