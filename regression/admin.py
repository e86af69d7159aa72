"""Tripwire policies (edited through the service), their states (evaluate / reset), KPI events (read-only)."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from governance_site import admin_tools
from governance_site.admin_tools import (
    AppendOnlyAdminMixin,
    EstimatedCountPaginator,
    OperateActionsMixin,
    PolicyAdminMixin,
    ReasonForm,
)
from governance_site.changes import APPROVAL_REQUIRED, request_url
from governance_site.errors import ServiceError
from governance_site.formatting import when

from . import cascade, charts, selectors, services
from .models import CascadePolicy, KpiEvent, RegressionPolicy, RegressionState, TripwireStatus

STATUS_COLOURS = {
    TripwireStatus.OK: "#1b7f3b",
    TripwireStatus.TRIGGERED: "#b00020",
    TripwireStatus.INSUFFICIENT_DATA: "#8a6d00",
    TripwireStatus.RELEARNING: "#8a6d00",
    TripwireStatus.UNDECIDABLE: "#b35900",
    TripwireStatus.STALE: "#b35900",
    TripwireStatus.DISABLED: "#666666",
    TripwireStatus.BREACHING: "#d0480a",
}


# The confirmation page of each tripwire action that asks for a reason: (title, explanation).
CONFIRMATIONS = {
    "acknowledge_throttles": (
        "Acknowledge throttles?",
        "Acknowledging says you have seen these throttles. They stay in force, but no longer count against the "
        "cascade's blast radius: automation may throttle other domains again without escalating to the kill switch.",
    ),
    "reset_tripwires": (
        "Reset tripwires?",
        "Reset releases the latch of these tripwires and starts a new epoch: the detector learns a new "
        "reference from the events after the reset, never from the bad ones. It does not undo what they did: "
        "re-enable the risk policy or release the kill switch separately, once the cause is fixed.",
    ),
    "rebaseline_last_week": (
        "Rebaseline tripwires?",
        "The Friday step: the events of the last 7 days become each detector's reference, pinned, "
        "in a new epoch. Only after a good week; undo it with the next action.",
    ),
    "undo_rebaseline": (
        "Undo the rebaseline?",
        "Each detector goes back to the reference and epoch it had before its last rebaseline; "
        "the events since are judged again at the next evaluation.",
    ),
}


def _reason_action(name: str, description: str, service: str, *, done: str, warn: str | None = None):
    """An operator action on tripwires that asks for a reason on its page in CONFIRMATIONS, then
    calls `services.<service>` for each selected one (`services.<warn>` names what to warn about first)."""

    @admin.action(description=description, permissions=["operate"])
    def action(self, request, queryset):
        warning = getattr(services, warn) if warn else None
        return self._with_reason(request, queryset, getattr(services, service), action=name, done=done, warn=warning)

    action.__name__ = name
    return action


@admin.register(RegressionPolicy)
class RegressionPolicyAdmin(PolicyAdminMixin, admin.ModelAdmin):
    contract = services.POLICY
    # The key columns first: on a 1366 px screen they show without scrolling sideways.
    list_display = ["__str__", "enabled", "max_drop_fraction", "action", "mode", "detector", "kind", "window_events",
                    "baseline_events", "lookback_days", "heimdall_link", "changed_by", "updated_at"]  # fmt: skip
    list_filter = ["enabled", "mode", "detector", "kind", "action", "domain"]
    search_fields = ["domain", "metric"]

    def get_urls(self):
        backtest = self.admin_site.admin_view(self.backtest_view)
        return [path("<path:object_id>/backtest/", backtest, name="regression_regressionpolicy_backtest"),
                *super().get_urls()]  # fmt: skip

    def backtest_view(self, request, object_id):
        """The policy replayed over its stored history: the chart, every trip, the false-trip estimate."""
        policy = self.get_object(request, object_id)
        if policy is None or not self.has_view_permission(request, policy):
            raise PermissionDenied
        result = services.backtest(domain=policy.domain, metric=policy.metric)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Backtest of {policy}",
            "opts": self.model._meta,
            "original": policy,
            "result": result,
            "chart": charts.backtest_chart(result),
        }
        return TemplateResponse(request, "admin/regression/regressionpolicy/backtest.html", context)


@admin.register(RegressionState)
class RegressionStateAdmin(OperateActionsMixin, AppendOnlyAdminMixin, admin.ModelAdmin):
    # The key columns first: on a 1366 px screen they show without scrolling sideways.
    list_display = ["policy", "coloured_status", "action_taken", "triggered_at", "comparison", "evaluated_at",
                    "window_count", "baseline_count", "evaluated_by"]  # fmt: skip
    list_filter = ["status", "triggered", "policy__enabled", "policy__action"]
    search_fields = ["policy__domain", "policy__metric"]
    actions = ["evaluate_now", "reset_tripwires", "acknowledge_throttles", "rebaseline_last_week", "undo_rebaseline"]
    fields = ["policy", "window_count", "baseline_count"]  # the rest is in the summary next to the chart

    def get_queryset(self, request):
        return selectors.states()

    @admin.display(description="Status", ordering="status")
    def coloured_status(self, state):
        return format_html(
            '<strong style="color:#fff;background:{};padding:2px 8px;border-radius:3px">{}</strong>',
            STATUS_COLOURS[state.status],
            state.get_status_display(),
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            kind = obj.policy.kind
            title, chart = charts.tripwire_chart(obj)
            context["tripwire"] = {
                "title": title,
                "chart": chart,
                "status": self.coloured_status(obj),
                "baseline": charts.number(obj.baseline_rate, kind),
                "current": charts.number(obj.current_rate, kind),
                "drop": charts.percent_or_dash(obj.drop_fraction),
                "max_drop": charts.percent_or_dash(obj.policy.max_drop_fraction),
                "trips_below": (
                    "—"
                    if obj.baseline_rate is None
                    else charts.number(selectors.drop_threshold(obj.policy, obj.baseline_rate), kind)
                ),
                "action_taken": obj.action_taken or "none",
                "verdict": charts.verdict(obj),
                "triggered_at": obj.triggered_at and when(obj.triggered_at),
                "evaluated_at": obj.evaluated_at and when(obj.evaluated_at),
            }
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="Baseline → current (drop / max)")
    def comparison(self, state):
        kind = state.policy.kind
        return (
            f"{charts.number(state.baseline_rate, kind)} → {charts.number(state.current_rate, kind)} "
            f"({charts.percent_or_dash(state.drop_fraction)} / {state.policy.max_drop_fraction:.0%})"
        )

    def _each(self, request, queryset, service, done: str, *, warn=None, **kwargs) -> None:
        """Call `service` for each selected tripwire, all in one transaction (apply_to_selection);
        then one warning per `warn(result)` that has something to say."""
        warnings = []

        def call(state):
            key = {"domain": state.policy.domain, "metric": state.policy.metric}
            try:
                result = service(actor=request.user, **key, **kwargs)
            except ServiceError as exc:
                if exc.reason == APPROVAL_REQUIRED:  # four-eyes: a KILL_SWITCH tripwire's reset
                    exc.request_url = request_url("tripwire.reset", reason=kwargs.get("reason", ""), **key)
                raise
            if warn is not None and (warning := warn(result)):
                warnings.append(warning)

        if admin_tools.apply_to_selection(self, request, queryset, call, done=done, label=lambda s: str(s.policy)):
            for warning in warnings:
                self.message_user(request, warning, messages.WARNING)

    # The same two operations as buttons on a tripwire's own page ---------------------------

    def get_urls(self):
        return [
            path("<int:pk>/evaluate/", self.admin_site.admin_view(self.evaluate_view), name="regression_evaluate"),
            path("<int:pk>/reset/", self.admin_site.admin_view(self.reset_view), name="regression_reset"),
            *super().get_urls(),
        ]

    def _operated(self, request, pk: int):
        if not self.has_operate_permission(request):
            raise PermissionDenied("Only governance operators may evaluate or reset a tripwire.")
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def evaluate_view(self, request, pk: int):
        if request.method != "POST":
            return redirect("admin:regression_regressionstate_change", pk)
        self._each(request, [self._operated(request, pk)], services.evaluate, "Evaluated")
        return redirect("admin:regression_regressionstate_change", pk)

    def reset_view(self, request, pk: int):
        state = self._operated(request, pk)
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._each(request, [state], services.reset, "Reset", warn=services.reset_warning,
                       reason=form.cleaned_data["reason"])  # fmt: skip
            return redirect("admin:regression_regressionstate_change", pk)
        return self._confirmation(request, [state], form, action="reset_tripwires")

    def _confirmation(self, request, states, form, *, action: str):
        title, explanation = CONFIRMATIONS[action]
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "explanation": explanation,
            "action": action,
            "opts": self.model._meta,
            "states": states,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/regression/regressionstate/reset_confirmation.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_operate": self.has_operate_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Evaluate now", permissions=["operate"])
    def evaluate_now(self, request, queryset):
        self._each(request, queryset, services.evaluate, "Evaluated")

    def _with_reason(self, request, queryset, service, *, action: str, done: str, warn=None):
        """Ask for a reason on `action`'s confirmation page, then call `service` for each selected tripwire."""
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._each(request, queryset, service, done, warn=warn, reason=form.cleaned_data["reason"])
            return None
        return self._confirmation(request, queryset, form, action=action)

    acknowledge_throttles = _reason_action(
        "acknowledge_throttles", "Acknowledge the throttle (asks for a reason)", "acknowledge", done="Acknowledged"
    )
    reset_tripwires = _reason_action(
        "reset_tripwires", "Reset (asks for a reason)", "reset", done="Reset", warn="reset_warning"
    )
    rebaseline_last_week = _reason_action(
        "rebaseline_last_week", "Rebaseline to the last 7 days (asks for a reason)", "rebaseline", done="Rebaselined"
    )
    undo_rebaseline = _reason_action(
        "undo_rebaseline", "Undo the last rebaseline (asks for a reason)", "undo_rebaseline", done="Rebaseline undone"
    )


class PolicyValueFilter(admin.SimpleListFilter):
    """Choices from the policies, not from a DISTINCT over millions of events."""

    def lookups(self, request, model_admin):
        name = self.parameter_name
        values = selectors.policies().order_by(name).values_list(name, flat=True).distinct()
        return [(value, value) for value in values]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset & selectors.kpi_events(**{self.parameter_name: self.value()})


class DomainFilter(PolicyValueFilter):
    title = parameter_name = "domain"


class MetricFilter(PolicyValueFilter):
    title = parameter_name = "metric"


@admin.register(KpiEvent)
class KpiEventAdmin(AppendOnlyAdminMixin, admin.ModelAdmin):
    """Append-only: never added, changed or deleted here."""

    list_display = [
        "occurred_at", "domain", "metric", "success", "value", "actor", "reported_by", "event_id", "created_at"
    ]  # fmt: skip
    list_filter = [DomainFilter, MetricFilter, ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["event_id__exact"]  # the unique index answers it ("=event_id" compares UPPER())
    ordering = ["-id"]  # the primary key's index: the newest first without sorting the table
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(CascadePolicy)
class CascadePolicyAdmin(PolicyAdminMixin, admin.ModelAdmin):
    """How tripwire actions escalate (one row); each rule off while empty."""

    contract = cascade.CASCADE
    list_display = ["__str__", "max_throttled_domains", "stabilisation_seconds", "blast_radius", "changed_by",
                    "updated_at"]  # fmt: skip

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not CascadePolicy.objects.exists()
