"""The production state on one page, with confirm-with-a-reason actions that call the services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from governance_site import changes, roles
from governance_site.admin_tools import ReasonForm
from governance_site.errors import ServiceError

from . import services
from .models import GoLiveState

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
