"""The production state on one page, the scoped kill switches and the engines' heartbeats, with
confirm-with-a-reason actions that call the services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from governance_site import changes, roles
from governance_site.admin_tools import (
    AppendOnlyAdminMixin,
    ReasonForm,
    apply_to_selection,
    confirm_with_reason,
    switch_actions,
)
from governance_site.errors import ServiceError

from . import services
from .models import EngineHeartbeat, GoLiveState, ScopedKill

# action slug -> (title, service, keyword arguments, button style)
SWITCH_ACTIONS = {
    "engage-kill-switch": ("Engage the kill switch", services.set_kill_switch, {"engaged": True}, "danger"),
    "release-kill-switch": ("Release the kill switch", services.set_kill_switch, {"engaged": False}, "safe"),
    "enable-go-live": ("Enable go-live", services.set_go_live, {"enabled": True}, "safe"),
    "disable-go-live": ("Disable go-live", services.set_go_live, {"enabled": False}, "danger"),
}


# Loosening switch actions -> the change-request kind an operator asks for while approvals are on.
CHANGE_REQUEST_KINDS = {"release-kill-switch": "kill_switch.release", "enable-go-live": "go_live.enable"}


def _action_link(slug: str) -> dict:
    """A switch action's button: the switch itself, or (four-eyes on, loosening) a change request."""
    title, _, _, style = SWITCH_ACTIONS[slug]
    kind = CHANGE_REQUEST_KINDS.get(slug)
    if kind and changes.approvals_required():
        url = f"{reverse('admin:approvals_changerequest_add')}?kind={kind}"
        return {"slug": slug, "title": f"Request: {title.lower()}", "style": style, "url": url}
    url = reverse("admin:golive_golivestate_switch", args=[slug])
    return {"slug": slug, "title": title, "style": style, "url": url}


SAFE, DANGER = "#1b7f3b", "#b00020"


def _label(text: str, colour: str):
    return format_html('<strong style="color:{}">{}</strong>', colour, text)


def available_actions(state: GoLiveState) -> list[str]:
    """The switch actions that make sense from `state`."""
    if state.kill_switch_engaged:
        return ["release-kill-switch"]
    return ["engage-kill-switch", "disable-go-live" if state.go_live_enabled else "enable-go-live"]


@admin.register(GoLiveState)
class GoLiveStateAdmin(admin.ModelAdmin):
    # Coloured words, not Django's boolean icons: a green check on "kill switch engaged" read as "fine".
    list_display = ["__str__", "go_live", "kill_switch", "reason", "changed_by", "updated_at"]
    fields = readonly_fields = ["go_live", "kill_switch", "reason", "changed_by", "updated_at"]
    change_form_template = "admin/golive/golivestate/change_form.html"

    @admin.display(description="Go-live")
    def go_live(self, state):
        return _label(*(("ON", SAFE) if state.go_live_enabled else ("OFF", DANGER)))

    @admin.display(description="Kill switch")
    def kill_switch(self, state):
        return _label(*(("ENGAGED", DANGER) if state.kill_switch_engaged else ("released", SAFE)))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the switches change only through the actions below, with a reason

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        state = services.get_state()
        return redirect("admin:golive_golivestate_change", state.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        state = services.get_state()
        actions = [_action_link(slug) for slug in available_actions(state)]
        extra_context = {
            **(extra_context or {}),
            "title": "Production state",
            "subtitle": None,
            "state": state,
            "switch_actions": actions if roles.is_operator(request.user) else [],
            "show_save": False,
            "show_save_and_continue": False,
            "show_delete_link": False,
        }
        return super().change_view(request, str(state.pk), form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "switch/<slug:action>/",
                self.admin_site.admin_view(self.switch_view),
                name="golive_golivestate_switch",
            ),
            *super().get_urls(),
        ]

    def switch_view(self, request, action):
        if action not in SWITCH_ACTIONS:
            raise PermissionDenied("Unknown action.")
        if not roles.is_operator(request.user):
            raise PermissionDenied("Only governance operators may change the switches.")
        title, service, kwargs, style = SWITCH_ACTIONS[action]
        state = services.get_state()
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                service(actor=request.user, reason=form.cleaned_data["reason"], **kwargs)
            except ServiceError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(request, f"{title}: done. Production is now {services.get_state().status_label}.")
            return redirect(reverse("admin:golive_golivestate_change", args=[state.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title}?",
            "opts": self.model._meta,
            "state": state,
            "form": form,
            "action_title": title,
            "action_style": style,
        }
        return TemplateResponse(request, "admin/golive/golivestate/confirm_switch.html", context)


class EngageForm(forms.ModelForm):
    """Engage a scoped kill switch: the scope, its target and why."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=2000,
        help_text="Recorded in the audit trail with your name, and named in every refusal.",
    )

    class Meta:
        model = ScopedKill
        fields = ["scope", "target"]

    def validate_unique(self):
        pass  # engaging a released switch again is the same row: the service finds it


@admin.register(ScopedKill)
class ScopedKillAdmin(admin.ModelAdmin):
    """Domain, engine and model-version kill switches. Add engages one; the actions release or
    re-engage the selected ones, each with a reason. Releasing never touches the global switch."""

    form = EngageForm
    list_display = ["__str__", "engaged_label", "reason", "changed_by", "updated_at"]
    list_filter = ["engaged", "scope"]
    search_fields = ["target", "reason", "changed_by"]
    actions = ["release_kills", "engage_kills"]

    @admin.display(description="Engaged", ordering="engaged")
    def engaged_label(self, kill):
        colour, label = ("#b00020", "ENGAGED") if kill.engaged else ("#2e7d32", "released")
        return format_html('<strong style="color:{}">{}</strong>', colour, label)

    def has_add_permission(self, request):
        return roles.is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return obj is None and roles.is_operator(request.user)  # the changelist's actions only

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        kill = services.set_kill_switch(
            engaged=True, scope=obj.scope, target=obj.target, reason=form.cleaned_data["reason"], actor=request.user
        )
        obj.pk = kill.pk
        obj.refresh_from_db()

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ServiceError as exc:
            self.message_user(request, f"Nothing was engaged: {exc.detail}", messages.ERROR)
            return redirect(request.get_full_path())

    engage_kills, release_kills = switch_actions("_confirm", "engaged", "kill switches", on="Engage", off="Release")

    def _confirm(self, request, queryset, *, engaged: bool):
        title = "Engage" if engaged else "Release"

        def apply(reason: str) -> None:
            apply_to_selection(
                self, request, queryset, done=f"{title}d",
                call=lambda kill: services.set_kill_switch(
                    engaged=engaged, scope=kill.scope, target=kill.target, reason=reason, actor=request.user
                ),
            )  # fmt: skip

        consequence = (
            "Every production request, reserve and Heimdall check these scopes cover is refused (kill_switch, "
            "naming the scope and you), and their open reservations are cancelled."
            if engaged
            else "These scopes may execute again, unless a wider switch (the global one, a domain) is still "
            "engaged: releasing one scope never releases another."
        )
        return confirm_with_reason(
            self, request, queryset, apply, title=title, what="the kill switch of", consequence=consequence,
            danger=engaged,
        )  # fmt: skip


@admin.register(EngineHeartbeat)
class EngineHeartbeatAdmin(AppendOnlyAdminMixin, admin.ModelAdmin):
    """Engines' heartbeats: written by the engines' beats and the cancel-on-disconnect task only."""

    list_display = ["engine", "connection", "max_silence_seconds", "last_beat_at", "lapsed_at"]
    search_fields = ["engine"]

    @admin.display(description="Connection")
    def connection(self, heartbeat):
        silent = heartbeat.silent_at(timezone.now())
        colour, label = ("#b00020", "SILENT: refused") if silent else ("#2e7d32", "beating")
        return format_html('<strong style="color:{}">{}</strong>', colour, label)
