from django.contrib import admin
from django.utils.html import format_html_join

from governance_site.admin_tools import AppendOnlyAdminMixin, EstimatedCountPaginator

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(AppendOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the trail is written by the services and never edited."""

    list_display = ["created_at", "lever", "actor", "action", "object_repr", "reason"]
    list_filter = ["lever", ("actor", admin.AllValuesFieldListFilter), "action", "created_at"]
    search_fields = ["actor", "object_repr", "reason"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = [
        "created_at",
        "actor",
        "lever",
        "object_type",
        "object_id",
        "object_repr",
        "action",
        "changes",
        "reason",
    ]
    fields = readonly_fields

    @admin.display(description="Before → after")
    def changes(self, obj):
        before, after = obj.before or {}, obj.after or {}
        rows = [(key, before.get(key), after.get(key)) for key in sorted(set(before) | set(after))]
        return (
            format_html_join("\n", "<div><strong>{}</strong>: {} → {}</div>", ((k, b, a) for k, b, a in rows if b != a))
            or "—"
        )
