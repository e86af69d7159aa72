from django.contrib import admin
from django.utils.html import format_html_join
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from governance_site import admin_tools, schedules
from governance_site.admin_tools import AppendOnlyAdminMixin, EstimatedCountPaginator, ReasonForm

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


# Beat schedules: django-celery-beat's admin, with every change through governance_site.schedules --------


class ScheduleFormMixin:
    """Saves what the operator changed, against what they saw: every field also renders the value
    it showed (a hidden `initial-` copy), so `changed_data` is what the operator changed; a field
    they changed that someone else changed since the form was opened is refused, never overwritten."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.show_hidden_initial = name != "reason"

    def clean(self):
        cleaned = super().clean()
        for name in self.changed_data:
            bound = self[name]
            seen = self._widget_data_value(bound.field.hidden_widget(), bound.html_initial_name)
            if name != "reason" and bound.field.has_changed(bound.initial, seen):
                self.add_error(name, "Changed by someone else since you opened it: nothing was saved. Reload the page.")
        return cleaned

    @property
    def operator_changes(self) -> list[str]:
        return [name for name in self.changed_data if name != "reason"]


class AuditedScheduleAdminMixin:
    """Saves go through `schedules.save_schedule` with the reason the form asks for, writing only
    the fields the operator changed; nothing is deleted here (a deleted interval takes its tasks
    with it): disable a task instead."""

    def get_form(self, request, obj=None, **kwargs):
        base = self.form
        form = type(f"Audited{base.__name__}", (ScheduleFormMixin, base), {"reason": ReasonForm.base_fields["reason"]})
        return super().get_form(request, obj, **{**kwargs, "form": form})

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (name, {**options, "fields": [f for f in options["fields"] if f != "reason"]})
            for name, options in super().get_fieldsets(request, obj)
        ]
        return [*fieldsets, ("Why", {"fields": ["reason"]})]

    def save_model(self, request, obj, form, change):
        schedules.save_schedule(
            instance=obj, changed=form.operator_changes, actor=request.user, reason=form.cleaned_data["reason"]
        )

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister([PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule])


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(AuditedScheduleAdminMixin, beat_admin.PeriodicTaskAdmin):
    actions = ["enable_tasks", "disable_tasks", "run_tasks"]

    enable_tasks, disable_tasks = admin_tools.switch_actions("_confirm_enabled", "enabled", "tasks")

    def _confirm_enabled(self, request, queryset, *, enabled: bool):
        title = "Enable" if enabled else "Disable"
        return admin_tools.confirm_with_reason(
            self, request, queryset,
            lambda reason: admin_tools.apply_to_selection(
                self, request, queryset, done=f"{title}d",
                call=lambda task: schedules.set_task_enabled(
                    task=task, enabled=enabled, reason=reason, actor=request.user
                ),
            ),
            title=title,
            what="the periodic tasks",
            consequence="Beat runs them on schedule again." if enabled else
            "Beat stops running them: a disabled tripwire evaluation never throttles, a disabled expiry never "
            "frees exposure.",
            danger=not enabled,
        )  # fmt: skip


@admin.register(IntervalSchedule)
class IntervalScheduleAdmin(AuditedScheduleAdminMixin, beat_admin.IntervalScheduleAdmin):
    pass


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(AuditedScheduleAdminMixin, beat_admin.CrontabScheduleAdmin):
    pass


@admin.register(SolarSchedule)
class SolarScheduleAdmin(AuditedScheduleAdminMixin, beat_admin.SolarScheduleAdmin):
    pass


@admin.register(ClockedSchedule)
class ClockedScheduleAdmin(AuditedScheduleAdminMixin, beat_admin.ClockedScheduleAdmin):
    pass
