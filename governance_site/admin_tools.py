"""Admin building blocks shared by the levers: the reason form, the policy admin, bulk actions and
the append-only record admin."""

from functools import cached_property

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.paginator import Paginator
from django.db import connections, transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from . import roles
from .changes import APPROVAL_REQUIRED, request_url
from .errors import ServiceError
from .policies import STALE_VERSION, PolicyContract, version_of


class ReasonForm(forms.Form):
    """The reason an operator gives on a confirmation page; it goes to the audit trail."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=2000,
        help_text="Recorded in the audit trail with your name.",
    )


def apply_to_selection(model_admin, request, queryset, call, *, done: str, label=str) -> bool:
    """The one rule of bulk actions: `call(obj)` for every selected object in one transaction, so
    the whole selection changes or, when a service refuses one of them, nothing does (the refusal
    is shown). Returns whether it was done."""
    try:
        with transaction.atomic():
            names = []
            for obj in queryset:
                call(obj)
                names.append(label(obj))
    except ServiceError as exc:
        link = getattr(exc, "request_url", None)  # four-eyes: where to request the same change
        message = format_html('Nothing changed: {} <a href="{}">Request the change</a>.', exc.detail, link)
        model_admin.message_user(request, message if link else f"Nothing changed: {exc.detail}", messages.ERROR)
        return False
    model_admin.message_user(request, f"{done}: {', '.join(names)}.", messages.SUCCESS)
    return True


def switch_actions(confirm: str, flag: str, things: str, *, on: str = "Enable", off: str = "Disable") -> tuple:
    """The two bulk actions of a switch, "<on> the selected <things>…" and "<off> …" (change
    permission): each hands the selection to the admin's method `confirm(request, queryset,
    <flag>=True or False)`, which asks for a reason. Bind them to the names `actions` lists."""

    def action(value: bool, verb: str):
        @admin.action(description=f"{verb} the selected {things}…", permissions=["change"])
        def switch(model_admin, request, queryset):
            return getattr(model_admin, confirm)(request, queryset, **{flag: value})

        return switch

    return action(True, on), action(False, off)


def confirm_with_reason(
    model_admin,
    request,
    queryset,
    apply,
    *,
    title: str,
    what: str,
    consequence: str,
    danger: bool = False,
    notes: dict[str, str] | None = None,
):
    """An action's confirmation page: the selection, what will follow, warnings to read first
    (`notes`, HTML id → text) and a reason for the audit trail. With a valid reason,
    `apply(reason)` and back to the list (returns None)."""
    form = ReasonForm(request.POST if "confirm" in request.POST else None)
    if form.is_valid():
        apply(form.cleaned_data["reason"])
        return None
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"{title} {opts.verbose_name_plural}?",
        "opts": opts,
        "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        "objects": queryset,
        "form": form,
        "action": request.POST["action"],
        "action_title": title,
        "what": what,
        "consequence": consequence,
        "danger": danger,
        "notes": notes or {},
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/confirm_with_reason.html", context)


class PolicyForm(forms.ModelForm):
    """A policy's form: the key fields by their identifier rule, the reason by the contract's rule,
    and the version it was rendered from (a change made since is refused, never overwritten)."""

    version = forms.CharField(widget=forms.HiddenInput, required=False)
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text="Why; recorded in the audit trail with your name.",
    )
    contract: PolicyContract

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for identifier in self.contract.keys:
            if identifier.name in self.fields:
                self.fields[identifier.name] = identifier.form_field()
        self.fields["reason"].required = self.contract.reason_required
        if not self.instance._state.adding:  # a saved policy (a singleton's pk is set before it is)
            self.fields["version"].initial = version_of(self.instance)

    def clean(self):
        cleaned = super().clean()
        if not self.instance._state.adding and cleaned.get("version") != version_of(self.instance):
            raise forms.ValidationError(
                f"This policy was changed by {self.instance.changed_by or 'someone'} since you opened it: "
                "nothing was saved. Reload the page to see the current values, then make your change again.",
                code=STALE_VERSION,
            )
        return cleaned


class PolicyAdminMixin:
    """The admin of a lever's policy, from its contract: operators (governance_site.roles) add and
    change, everyone else with a governance role views; nothing is deleted (a policy is disabled);
    a save calls the contract's upsert with only the fields the operator changed, against the
    version the form was rendered from."""

    contract: PolicyContract
    form = PolicyForm

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"contract": self.contract})

    def get_fields(self, request, obj=None):
        editable = [*self.contract.key_names, *self.contract.fields, "reason", "version"]
        return [*editable, "changed_by", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # The key identifies the policy: another key is another policy.
        return ["changed_by", "updated_at", *(self.contract.key_names if obj else ())]

    def has_add_permission(self, request):
        return roles.is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return roles.is_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # disable a policy instead: its ledger, state and audit trail refer to it

    def save_model(self, request, obj, form, change):
        key = {name: getattr(obj, name) for name in self.contract.key_names}
        changes = {name: form.cleaned_data[name] for name in self.contract.fields if name in form.changed_data}
        try:
            policy, _ = self.contract.upsert(
                key=key, changes=changes, actor=request.user, reason=form.cleaned_data["reason"],
                version=form.cleaned_data["version"] or None if change else None,
            )  # fmt: skip
        except ServiceError as exc:
            if exc.reason == APPROVAL_REQUIRED:  # four-eyes: offer the same change as a request
                exc.request_url = request_url("policy.update", lever=self.contract.lever, changes=changes,
                                              reason=form.cleaned_data["reason"], **key)  # fmt: skip
            raise
        obj.pk = policy.pk
        obj.refresh_from_db()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as exc:  # refused under the lock (e.g. changed between the form's check and the save)
            self.message_user(request, f"Nothing was saved: {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(getattr(exc, "request_url", None) or request.get_full_path())


class OperateActionsMixin:
    """Admin actions declared with `permissions=["operate"]` are for governance operators."""

    def has_operate_permission(self, request):
        return roles.is_operator(request.user)


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
