"""The pending queue (diff, who asked why, approvals), request a change, approve/reject with a note, apply."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from governance_site import roles
from governance_site.admin_tools import badge
from governance_site.errors import ServiceError

from . import kinds, selectors, services
from .models import EXPIRED, STATES, ChangeRequest, Kind, Status

STATE_COLOURS = {Status.PENDING: "#8a6d00", EXPIRED: "#666666", Status.APPLIED: "#1b7f3b", Status.REJECTED: "#b00020"}
STEPS = ("approve", "reject", "apply", "bypass")


class RequestForm(forms.Form):
    kind = forms.ChoiceField(choices=Kind.choices)
    lever = forms.ChoiceField(choices=[("", "—"), *((lever, lever) for lever in kinds.CONTRACTS)], required=False,
                              help_text="Policy changes: whose policy.")  # fmt: skip
    domain = forms.CharField(required=False, help_text="Policy changes and tripwire resets: the domain.")
    metric = forms.CharField(required=False, help_text="Tripwire policies and resets: the metric.")
    changes = forms.JSONField(required=False, help_text='Policy changes: {"field": new value, ...}.')
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=2000,
                             help_text="Why: the approvers read it, and it goes to the audit trail.")  # fmt: skip

    def params(self) -> dict:
        """The service's parameters for the chosen kind (the service checks them)."""
        data, kind = self.cleaned_data, self.cleaned_data["kind"]
        identity = {name: data[name] for name in ("domain", "metric") if data[name]}
        if kind == Kind.TRIPWIRE_RESET:
            return identity
        if kind == Kind.POLICY_UPDATE:
            return {"lever": data["lever"], "key": identity, "changes": data["changes"]}
        return {}


def _initial(query: dict) -> dict:
    """The request form filled in from the query string (a refused change elsewhere in the admin)."""
    try:
        query["changes"] = json.loads(query["changes"]) if "changes" in query else None
    except ValueError:
        query.pop("changes")
    return query


class NoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 80}), max_length=2000, required=False)


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(state, state.capitalize()) for state in STATES]

    def queryset(self, request, queryset):
        return queryset & selectors.changes_in_state(self.value()) if self.value() else queryset


def render_diff(change: ChangeRequest):
    rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>→ {}</td></tr>",
                            ((name, before, after) for name, (before, after) in change.diff.items()))  # fmt: skip
    return format_html('<table class="change-diff">{}</table>', rows)


@admin.register(ChangeRequest)
class ChangeRequestAdmin(admin.ModelAdmin):
    list_display = ["__str__", "diff_display", "requested_by", "reason", "approvals_display", "coloured_state",
                    "expires_at"]  # fmt: skip
    list_filter = [StateFilter, "kind", "lever"]
    search_fields = ["target", "reason", "requested_by"]
    date_hierarchy = "created_at"
    change_form_template = "admin/approvals/changerequest/change_form.html"
    fields = ["kind", "lever", "target", "reason", "requested_by", "created_at", "revision", "expires_at",
              "decided_by", "decided_at", "decision_note", "emergency"]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("approvals")

    def has_add_permission(self, request):
        return roles.is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return False  # every step is a button below, through the service

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Change")
    def diff_display(self, change):
        return render_diff(change)

    @admin.display(description="Approvals")
    def approvals_display(self, change):
        approvers = [approval.approver for approval in change.approvals.all() if approval.revision == change.revision]
        return f"{len(approvers)}: {', '.join(approvers)}" if approvers else "0"

    @admin.display(description="State", ordering="status")
    def coloured_state(self, change):
        return badge(STATE_COLOURS[change.state], change.state.upper())

    def get_urls(self):
        step = path("<int:change_id>/step/<slug:step>/", self.admin_site.admin_view(self.step_view),
                    name="approvals_changerequest_step")  # fmt: skip
        return [step, *super().get_urls()]

    def add_view(self, request, form_url="", extra_context=None):
        """Request a change: the path every loosening change takes while approvals are on."""
        if not roles.is_operator(request.user):
            raise PermissionDenied("Only governance operators request changes.")
        form = RequestForm(request.POST or None, initial=_initial(request.GET.dict()))
        if request.method == "POST" and form.is_valid():
            try:
                change = services.request_change(kind=form.cleaned_data["kind"], params=form.params(),
                                                 reason=form.cleaned_data["reason"], actor=request.user)  # fmt: skip
            except ServiceError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(request, f"{change} requested: it takes effect once another operator approves it "
                                           "and it is applied.")  # fmt: skip
                return redirect(reverse("admin:approvals_changerequest_change", args=[change.pk]))
        context = {**self.admin_site.each_context(request), "title": "Request a change", "opts": self.model._meta,
                   "form": form}  # fmt: skip
        return TemplateResponse(request, "admin/approvals/changerequest/request.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        change = self.get_object(request, object_id)
        operator = roles.is_operator(request.user)
        extra_context = {
            **(extra_context or {}),
            "diff": change and render_diff(change),
            "approvals": change.current_approvals() if change else [],
            "voided": change.approvals.exclude(revision=change.revision) if change else [],
            "steps": operator and change is not None and change.state == "pending",
            "may_bypass": services.may_bypass(request.user),
            "note_form": NoteForm(),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def step_view(self, request, change_id, step):
        if request.method != "POST" or step not in STEPS or not roles.is_operator(request.user):
            raise PermissionDenied("Approve, reject and apply with the buttons (operators only).")
        form = NoteForm(request.POST)
        note = form.cleaned_data["note"] if form.is_valid() else ""
        try:
            if step in ("apply", "bypass"):
                change = services.apply(change_id=change_id, actor=request.user, emergency=step == "bypass", note=note)
            else:
                change = getattr(services, step)(change_id=change_id, actor=request.user, note=note)
        except ServiceError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
        else:
            self.message_user(request, f"{change}: {change.state if step != 'approve' else 'approved'}.")
        return redirect(reverse("admin:approvals_changerequest_change", args=[change_id]))
