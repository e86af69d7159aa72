"""Alerts (acknowledge with a note), destinations (filters, pause, "Send a test"), the delivery log
(attempts, status codes, last error; redeliver)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from governance_site import roles
from governance_site.admin_tools import AppendOnlyAdminMixin, OperateActionsMixin, badge
from governance_site.audit.models import Lever
from governance_site.errors import ServiceError

from . import selectors, services
from .models import Alert, Delivery, DeliveryAttempt, DeliveryStatus, Destination, Severity

SEVERITY_COLOURS = {Severity.CRITICAL: "#b00020", Severity.HIGH: "#c25e00", Severity.INFO: "#4a6785"}
DELIVERY_COLOURS = {
    DeliveryStatus.DELIVERED: "#1b7f3b", DeliveryStatus.FAILED: "#b00020", DeliveryStatus.RETRYING: "#c25e00",
    DeliveryStatus.PENDING: "#8a6d00", DeliveryStatus.SENDING: "#8a6d00", DeliveryStatus.SKIPPED: "#666666",
}  # fmt: skip


class NoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=2000,
        help_text="What you are doing about it. Recorded in the audit trail with your name.",
    )  # fmt: skip


class AwaitingFilter(admin.SimpleListFilter):
    title = "acknowledgement"
    parameter_name = "ack"

    def lookups(self, request, model_admin):
        return [("awaiting", "Awaiting acknowledgement"), ("done", "Acknowledged")]

    def queryset(self, request, queryset):
        if self.value() == "awaiting":
            return queryset.filter(requires_ack=True, acknowledged_at__isnull=True)
        if self.value() == "done":
            return queryset.filter(acknowledged_at__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(OperateActionsMixin, AppendOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["coloured_severity", "title", "acknowledgement", "event", "lever", "actor", "created_at", "sends"]
    list_filter = [AwaitingFilter, "severity", "lever", "event"]
    search_fields = ["title", "object_repr", "reason", "actor"]
    date_hierarchy = "created_at"
    actions = ["acknowledge"]
    change_form_template = "admin/alerts/alert/change_form.html"

    def get_queryset(self, request):
        return selectors.unacknowledged_first()

    @admin.display(description="Severity", ordering="severity")
    def coloured_severity(self, alert):
        return badge(SEVERITY_COLOURS[alert.severity], alert.get_severity_display())

    @admin.display(description="Acknowledged")
    def acknowledgement(self, alert):
        if not alert.requires_ack:
            return "—"
        if alert.acknowledged_at is None:
            return badge(SEVERITY_COLOURS[Severity.CRITICAL], "AWAITING")
        return f"{alert.acknowledged_by}: {alert.ack_note}"

    def get_urls(self):
        view = self.admin_site.admin_view(self.acknowledge_view)
        return [path("<int:alert_id>/acknowledge/", view, name="alerts_alert_acknowledge"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        alert = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "may_acknowledge": alert is not None and alert.unacknowledged and roles.is_operator(request.user),
            "deliveries": alert.deliveries.select_related("destination") if alert else [],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _acknowledge(self, request, alerts, form) -> TemplateResponse | None:
        """Acknowledge `alerts` once `form` (the note) is valid; else the confirmation page."""
        if form.is_valid():
            done = []
            for alert in alerts:
                try:
                    services.acknowledge(alert_id=alert.pk, note=form.cleaned_data["note"], actor=request.user)
                except ServiceError as exc:
                    self.message_user(request, f"#{alert.pk}: {exc.detail}", messages.WARNING)
                else:
                    done.append(f"#{alert.pk}")
            if done:
                self.message_user(request, f"Acknowledged: {', '.join(done)}.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Acknowledge?",
            "opts": self.model._meta,
            "alerts": alerts,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/alerts/alert/acknowledge.html", context)

    @admin.action(description="Acknowledge (asks for a note)", permissions=["operate"])
    def acknowledge(self, request, queryset):
        return self._acknowledge(request, list(queryset), NoteForm(request.POST if "apply" in request.POST else None))

    def acknowledge_view(self, request, alert_id):
        if not roles.is_operator(request.user):
            raise PermissionDenied("Only governance operators may acknowledge alerts.")
        alert = get_object_or_404(Alert, pk=alert_id)
        response = self._acknowledge(request, [alert], NoteForm(request.POST or None))
        return response or redirect(reverse("admin:alerts_alert_change", args=[alert.pk]))


class DestinationForm(forms.ModelForm):
    url = forms.URLField(max_length=500, required=False, assume_scheme="https",
                         help_text=Destination._meta.get_field("url").help_text)  # fmt: skip
    levers = forms.MultipleChoiceField(
        choices=Lever.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Only alerts of these levers; none ticked: every alert.",
    )  # fmt: skip

    class Meta:
        model = Destination
        fields = ["name", "kind", "url", "secret", "recipients", "min_severity", "levers", "paused"]


@admin.register(Destination)
class DestinationAdmin(OperateActionsMixin, admin.ModelAdmin):
    form = DestinationForm
    list_display = ["name", "kind", "target", "min_severity", "lever_filter", "paused", "changed_by", "updated_at"]
    list_filter = ["kind", "paused", "min_severity"]
    search_fields = ["name", "url", "recipients"]
    actions = ["send_test"]
    change_form_template = "admin/alerts/destination/change_form.html"

    def has_view_permission(self, request, obj=None):
        return roles.is_operator(request.user) and super().has_view_permission(request, obj)  # secrets live here

    def has_delete_permission(self, request, obj=None):
        return False  # pause it instead: its delivery log stays

    @admin.display(description="Sends to")
    def target(self, destination):
        return destination.url or ", ".join(destination.recipient_list)

    @admin.display(description="Levers")
    def lever_filter(self, destination):
        return ", ".join(destination.levers) or "all"

    def save_model(self, request, obj, form, change):
        services.save_destination(destination=obj, actor=request.user)

    def get_urls(self):
        view = self.admin_site.admin_view(self.send_test_view)
        return [path("<int:destination_id>/send-test/", view, name="alerts_destination_send_test"), *super().get_urls()]

    def _send_test(self, request, destinations) -> None:
        for destination in destinations:
            delivery = services.send_test(destination_id=destination.pk, actor=request.user)
            link = reverse("admin:alerts_delivery_change", args=[delivery.pk])
            self.message_user(request, format_html('Test alert queued for {}: <a href="{}">its delivery</a>.',
                                                   destination, link))  # fmt: skip

    @admin.action(description="Send a test", permissions=["operate"])
    def send_test(self, request, queryset):
        self._send_test(request, queryset)

    def send_test_view(self, request, destination_id):
        if request.method != "POST" or not roles.is_operator(request.user):
            raise PermissionDenied("Send a test with the button (operators only).")
        self._send_test(request, [get_object_or_404(Destination, pk=destination_id)])
        return redirect(reverse("admin:alerts_destination_change", args=[destination_id]))


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = readonly_fields = ["attempted_at", "ok", "status_code", "error"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(OperateActionsMixin, AppendOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["alert", "destination", "round", "coloured_status", "attempts", "last_status_code", "last_error",
                    "next_attempt_at", "delivered_at", "created_at"]  # fmt: skip
    list_filter = ["status", "destination", "alert__severity"]
    search_fields = ["alert__title", "destination__name", "last_error"]
    date_hierarchy = "created_at"
    list_select_related = ["alert", "destination"]
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]

    @admin.display(description="Status", ordering="status")
    def coloured_status(self, delivery):
        return badge(DELIVERY_COLOURS[delivery.status], delivery.get_status_display())

    @admin.action(description="Redeliver", permissions=["operate"])
    def redeliver(self, request, queryset):
        count = services.redeliver(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Redelivering {count} deliveries.")
