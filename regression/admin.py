"""Tripwire policies (edited through the service), their states (evaluate / reset), KPI events (read-only)."""

from functools import partial
from itertools import accumulate

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from governance_site import charts, roles
from governance_site.admin_tools import AppendOnlyAdminMixin, EstimatedCountPaginator, ReasonForm
from governance_site.errors import ServiceError
from governance_site.fields import normalize_domain

from . import selectors, services
from .fields import normalize_metric
from .models import KpiEvent, PolicyKind, RegressionPolicy, RegressionState, TripwireStatus

STATUS_COLOURS = {
    TripwireStatus.OK: "#1b7f3b",
    TripwireStatus.TRIGGERED: "#b00020",
    TripwireStatus.INSUFFICIENT_DATA: "#8a6d00",
    TripwireStatus.RELEARNING: "#8a6d00",
    TripwireStatus.UNDECIDABLE: "#b35900",
    TripwireStatus.STALE: "#b35900",
    TripwireStatus.DISABLED: "#666666",
}
CHART_WIDTH = 680  # px: the chart and its summary side by side next to the admin's navigation
POLICY_FIELDS = [
    "enabled", "kind", "window_events", "baseline_events", "lookback_days", "max_drop_fraction", "action",
    "detector", "mode", "false_alarm_events", "stale_after_hours",
]  # fmt: skip
BACKTEST_POINTS = 600  # the backtest chart's points, whatever the length of the history


class PolicyForm(forms.ModelForm):
    reason = ReasonForm.base_fields["reason"]

    class Meta:
        model = RegressionPolicy
        fields = ["domain", "metric", *POLICY_FIELDS]

    def _normalized(self, name: str, normalize) -> str:
        try:
            return normalize(self.cleaned_data[name])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_domain(self):
        return self._normalized("domain", normalize_domain)

    def clean_metric(self):
        return self._normalized("metric", normalize_metric)


@admin.register(RegressionPolicy)
class RegressionPolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = ["__str__", "enabled", "mode", "detector", "kind", "window_events", "baseline_events",
                    "lookback_days", "max_drop_fraction", "action", "changed_by", "updated_at"]  # fmt: skip
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
            "chart": backtest_chart(result),
        }
        return TemplateResponse(request, "admin/regression/regressionpolicy/backtest.html", context)

    def get_readonly_fields(self, request, obj=None):
        identity = ["domain", "metric"] if obj else []
        return [*identity, "changed_by", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        return False  # disable a policy instead: its state and history stay

    def save_model(self, request, obj, form, change):
        policy, _ = services.upsert_policy(
            domain=obj.domain,
            metric=obj.metric,
            changes={name: form.cleaned_data[name] for name in POLICY_FIELDS},
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
        obj.pk = policy.pk


def _number(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    return f"{value:.1%}" if kind == PolicyKind.SUCCESS_RATE else f"{value:.4g}"


def _rolling_mean(values: list[float], size: int) -> list[float | None]:
    """The mean of each value and the `size - 1` before it; None until `size` values are in."""
    sums = list(accumulate(values, initial=0.0))
    return [None if end < size else (sums[end] - sums[end - size]) / size for end in range(1, len(sums))]


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i T")


def _percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction:.1%}"


def tripwire_chart(state: RegressionState) -> tuple[str, SafeString]:
    """(title, SVG): the metric over the events an evaluation reads now, the baseline and window
    spans with their rates, the threshold line, and the trigger point on the newest event when
    the state is triggered."""
    policy = state.policy
    history = selectors.tripwire_history(policy)
    number = partial(_number, kind=policy.kind)
    if policy.kind == PolicyKind.SUCCESS_RATE:  # 0/1 per event: a rolling rate shows the trend
        size = min(max(5, policy.window_events // 5), len(history.values)) or 1
        values, y_range, y_format = _rolling_mean(history.values, size), (0.0, 1.0), charts.percent
        title = f"{policy}: success rate, rolling over {size} events"
    else:
        values, y_range, y_format = history.values, None, number
        title = f"{policy}: value of each event"
    spans = [
        charts.Span(part.start, part.stop, f"{name} {number(rate)}", color, level=rate)
        for name, part, rate, color in [
            ("baseline", history.baseline, history.baseline_rate, "#1f77b4"),
            ("window", history.window, history.current_rate, "#d62728"),
        ]
        if part
    ]
    threshold = history.threshold
    rules = [] if threshold is None else [charts.Rule(threshold, f"threshold {number(threshold)}")]
    marker = (len(values) - 1, f"triggered {_when(state.triggered_at)}") if state.triggered and values else None
    return title, charts.series_chart(
        title=title,
        values=values,
        x_labels=[str(index - len(values) + 1) for index in range(len(values))],
        spans=spans,
        rules=rules,
        marker=marker,
        y_range=y_range,
        y_format=y_format,
        width=CHART_WIDTH,
    )


def backtest_chart(result: services.Backtest) -> SafeString:
    """The KPI over the replayed history (a rolling mean, at most BACKTEST_POINTS points), each trip
    shaded from its estimated start to its reset, the first one marked."""
    policy, values = result.policy, result.series.values
    size = max(policy.window_events, len(values) // BACKTEST_POINTS, 1)
    rolling = _rolling_mean(list(values), size)
    step = max(len(rolling) // BACKTEST_POINTS, 1)
    points = rolling[::step]
    spans = [
        charts.Span(
            max(episode["change_index"], 0) // step,
            (episode["reset_index"] if episode["reset_index"] is not None else len(values) - 1) // step + 1,
            f"trip {number}", "#d62728",
        )
        for number, episode in enumerate(result.episodes, start=1)
    ]  # fmt: skip
    first = result.episodes[0] if result.episodes else None
    marker = (first["tripped_index"] // step, f"trips {_when(first['tripped_at'])}") if first else None
    rate = policy.kind == PolicyKind.SUCCESS_RATE
    return charts.series_chart(
        title=f"{policy}: {'success rate' if rate else 'mean value'}, rolling over {size} events",
        values=points,
        spans=spans,
        marker=marker,
        y_range=(0.0, 1.0) if rate else None,
        y_format=charts.percent if rate else partial(_number, kind=policy.kind),
        width=CHART_WIDTH,
    )


def verdict(state: RegressionState) -> dict:
    """The detector's numbers for the state page, as text."""
    policy, facts = state.policy, state.explanation or {}

    def amount(mean, count):
        return "—" if mean is None or not count else f"{_number(mean, policy.kind)} of {count}"

    cusum = (
        "—" if state.statistic is None or state.threshold is None else f"{state.statistic:.2f} / {state.threshold:.2f}"
    )
    return {
        "detector": f"{policy.get_detector_display()}; {policy.get_mode_display()}",
        "cusum": cusum,
        "evidence": amount(facts.get("evidence_mean"), facts.get("evidence_n")),
        "reference": amount(facts.get("reference_mean"), facts.get("reference_n"))
        + (" (pinned)" if facts.get("reference_pinned") else ""),
        "p_value": "—" if facts.get("p_value") is None else f"{facts['p_value']:.2g}",
        "epoch": f"{state.epoch} since {_when(state.epoch_started_at)}" if state.epoch_started_at else str(state.epoch),
        "late_events": state.late_events,
        "would_have": state.would_have_taken or "—",
    }


@admin.register(RegressionState)
class RegressionStateAdmin(AppendOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["policy", "coloured_status", "comparison", "window_count", "baseline_count",
                    "action_taken", "triggered_at", "evaluated_at", "evaluated_by"]  # fmt: skip
    list_filter = ["status", "triggered", "policy__enabled", "policy__action"]
    search_fields = ["policy__domain", "policy__metric"]
    actions = ["evaluate_now", "reset_tripwires", "rebaseline_last_week", "undo_rebaseline"]
    fields = ["policy", "window_count", "baseline_count"]  # the rest is in the summary next to the chart

    def get_queryset(self, request):
        return selectors.states()

    def has_operate_permission(self, request):
        return roles.is_operator(request.user)

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
            title, chart = tripwire_chart(obj)
            context["tripwire"] = {
                "title": title,
                "chart": chart,
                "status": self.coloured_status(obj),
                "baseline": _number(obj.baseline_rate, kind),
                "current": _number(obj.current_rate, kind),
                "drop": _percent(obj.drop_fraction),
                "max_drop": _percent(obj.policy.max_drop_fraction),
                "trips_below": (
                    "—"
                    if obj.baseline_rate is None
                    else _number(selectors.drop_threshold(obj.policy, obj.baseline_rate), kind)
                ),
                "action_taken": obj.action_taken or "none",
                "verdict": verdict(obj),
                "triggered_at": obj.triggered_at and _when(obj.triggered_at),
                "evaluated_at": obj.evaluated_at and _when(obj.evaluated_at),
            }
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="Baseline → current (drop / max)")
    def comparison(self, state):
        kind = state.policy.kind
        return (
            f"{_number(state.baseline_rate, kind)} → {_number(state.current_rate, kind)} "
            f"({_percent(state.drop_fraction)} / {state.policy.max_drop_fraction:.0%})"
        )

    def _each(self, request, queryset, service, done: str, **kwargs) -> None:
        """Call `service` for each selected tripwire; one message for the successes, one per refusal."""
        names = []
        for state in queryset:
            policy = state.policy
            try:
                service(domain=policy.domain, metric=policy.metric, actor=request.user, **kwargs)
            except ServiceError as exc:
                self.message_user(request, f"{policy}: {exc.detail}", messages.WARNING)
            else:
                names.append(str(policy))
        if names:
            self.message_user(request, f"{done}: {', '.join(names)}.")

    @admin.action(description="Evaluate now", permissions=["operate"])
    def evaluate_now(self, request, queryset):
        self._each(request, queryset, services.evaluate, "Evaluated")

    def _with_reason(self, request, queryset, service, *, action: str, title: str, explanation: str, done: str):
        """Ask for a reason on a confirmation page, then call `service` for each selected tripwire."""
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._each(request, queryset, service, done, reason=form.cleaned_data["reason"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "explanation": explanation,
            "action": action,
            "opts": self.model._meta,
            "states": queryset,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/regression/regressionstate/reset_confirmation.html", context)

    @admin.action(description="Reset (asks for a reason)", permissions=["operate"])
    def reset_tripwires(self, request, queryset):
        return self._with_reason(
            request, queryset, services.reset, action="reset_tripwires", title="Reset tripwires?", done="Reset",
            explanation="Reset releases the latch of these tripwires and starts a new epoch: the detector learns "
            "a new reference from the events after the reset, never from the bad ones. It does not undo what "
            "they did: re-enable the risk policy or release the kill switch separately, once the cause is fixed.",
        )  # fmt: skip

    @admin.action(description="Rebaseline to the last 7 days (asks for a reason)", permissions=["operate"])
    def rebaseline_last_week(self, request, queryset):
        return self._with_reason(
            request, queryset, services.rebaseline, action="rebaseline_last_week", title="Rebaseline tripwires?",
            done="Rebaselined",
            explanation="The Friday step: the events of the last 7 days become each detector's reference, pinned, "
            "in a new epoch. Only after a good week; undo it with the next action.",
        )  # fmt: skip

    @admin.action(description="Undo the last rebaseline (asks for a reason)", permissions=["operate"])
    def undo_rebaseline(self, request, queryset):
        return self._with_reason(
            request, queryset, services.undo_rebaseline, action="undo_rebaseline", title="Undo the rebaseline?",
            done="Rebaseline undone",
            explanation="Each detector goes back to the reference and epoch it had before its last rebaseline; "
            "the events since are judged again at the next evaluation.",
        )  # fmt: skip


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

    list_display = ["occurred_at", "domain", "metric", "success", "value", "actor", "event_id", "created_at"]
    list_filter = [DomainFilter, MetricFilter, ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["event_id__exact"]  # the unique index answers it ("=event_id" compares UPPER())
    ordering = ["-id"]  # the primary key's index: the newest first without sorting the table
    show_full_result_count = False
    paginator = EstimatedCountPaginator
