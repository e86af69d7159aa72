"""The admin site, whose landing page is the control-plane review over a period, with its sign-off."""

from functools import partial
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from governance_site import charts, roles
from governance_site.errors import ServiceError
from governance_site.formatting import money

from . import selectors, services
from .apis import PeriodQuery

CHART_WIDTH, CHART_HEIGHT = 440, 170
AUDITED_APPS = ("golive", "risk", "heimdall", "regression", "review")
DENIAL_COLOURS = ("#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")  # approvals are green


class SignOffForm(forms.Form):
    since = forms.DateField(widget=forms.HiddenInput)
    until = forms.DateField(widget=forms.HiddenInput)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        max_length=2000,
        help_text="What you found, or that nothing needed doing. Recorded with your name in the audit trail.",
    )


def period_links(period: selectors.Period) -> dict[str, str]:
    """The query strings that filter each admin list to the period's business days, so that the
    counts on those lists are the review's."""
    times = {"__gte": period.start.isoformat(), "__lt": period.end.isoformat()}
    return {
        "ledger": urlencode(
            {"business_date__gte": period.since.isoformat(), "business_date__lt": period.end.date().isoformat()}
        ),
        "audit": urlencode({f"created_at{op}": moment for op, moment in times.items()}),
        "kpi": urlencode({f"occurred_at{op}": moment for op, moment in times.items()}),
        "trials": urlencode({f"created_at{op}": moment for op, moment in times.items()}),
    }


def _count(value: float) -> str:
    return f"{value:.0f}"


def _money_short(value: float) -> str:
    return f"{value:,.0f}"


def trend_charts(trend: dict, days: list) -> list[tuple[str, object]]:
    """The small charts of one domain's trend: (caption, SVG) pairs."""
    labels = [f"{day:%a %d}" for day in days]
    size = {"width": CHART_WIDTH, "height": CHART_HEIGHT}
    domain = trend["domain"]
    shown = []
    counts = [charts.Series("approved", trend["approved"], "#1b7f3b")]
    counts += [
        charts.Series(f"denied: {reason}", values, DENIAL_COLOURS[number % len(DENIAL_COLOURS)])
        for number, (reason, values) in enumerate(trend["denied"].items())
    ]
    if any(any(series.values) for series in counts):
        top = max(max(series.values) for series in counts)
        top += top % 2  # an even top: the middle tick is a whole number too
        shown.append((
            "Approvals and denials by reason, per day",
            charts.multi_series_chart(title=f"{domain}: approvals and denials per day", series=counts,
                                      x_labels=labels, y_range=(0, max(top, 2)), y_format=_count, **size),
        ))  # fmt: skip
    pnl = [float(value) for value in trend["realized_pnl"]]
    if trend["max_daily_loss"] is not None or any(pnl):
        rules = []
        if trend["max_daily_loss"] is not None:
            limit = -float(trend["max_daily_loss"])
            rules.append(charts.Rule(limit, f"max loss {_money_short(limit)}"))
        shown.append((
            f"Realized P&L per day against max_daily_loss ({money(trend['max_daily_loss'])})",
            charts.series_chart(title=f"{domain}: realized P&L per day", values=pnl, x_labels=labels, rules=rules,
                                y_format=_money_short, **size),
        ))  # fmt: skip
    for tripwire in trend["tripwires"]:
        rate = tripwire["kind"] == "SUCCESS_RATE"
        fmt = charts.percent if rate else (lambda value: f"{value:.3g}")
        rules = []
        if tripwire["threshold"] is not None:
            rules.append(charts.Rule(tripwire["threshold"], f"threshold {fmt(tripwire['threshold'])}"))
        if any(value is not None for value in tripwire["values"]) or rules:
            shown.append((
                f"{domain}.{tripwire['metric']} per day against its threshold",
                charts.series_chart(title=f"{domain}.{tripwire['metric']} per day", values=tripwire["values"],
                                    x_labels=labels, rules=rules, y_range=(0.0, 1.0) if rate else None,
                                    y_format=fmt, **size),
            ))  # fmt: skip
    rates = trend["heimdall_success_rate"]
    if any(value is not None for value in rates):
        shown.append((
            "Heimdall sandbox success rate per day",
            charts.series_chart(title=f"{domain}: Heimdall success rate per day", values=rates, x_labels=labels,
                                y_range=(0.0, 1.0), **size),
        ))  # fmt: skip
    return shown


class GovernanceAdminSite(admin.AdminSite):
    site_header = "Governance control plane"
    site_title = "Governance"
    index_title = "Control-plane review"
    index_template = "admin/governance_index.html"
    # The landing page lists every model, and the breadcrumbs lead back to it: the navigation
    # sidebar only took 300 px from each list (their key columns went off a 1366 px screen).
    enable_nav_sidebar = False

    def get_urls(self):
        # Each audited model's "History" button opens the audit trail of that object (every change,
        # by any path: admin, API, tripwires), instead of Django's admin log (admin changes only).
        history = [
            path(f"{model._meta.app_label}/{model._meta.model_name}/<path:object_id>/history/",
                 self.admin_view(partial(self.audit_history_view, model=model)))
            for model in self._registry
            if model._meta.app_label in AUDITED_APPS
        ]  # fmt: skip
        return [
            path("review/sign-off/", self.admin_view(self.sign_off_view), name="review_sign_off"),
            *history,
            *super().get_urls(),
        ]

    def audit_history_view(self, request, object_id, *, model):
        if not self._registry[model].has_view_or_change_permission(request):
            raise PermissionDenied
        query = urlencode({"object_type": model._meta.label_lower, "object_id": unquote(object_id)})
        return redirect(f"{reverse('admin:audit_auditevent_changelist')}?{query}")

    def get_app_list(self, request, app_label=None):
        """django-celery-beat's five raw screens become one "Schedules" entry (its periodic tasks;
        their intervals, crontabs… are edited from a task's form)."""
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            if app["app_label"] == "django_celery_beat":
                app["name"] = "Schedules"
                app["models"] = [model for model in app["models"] if model["object_name"] == "PeriodicTask"]
                for model in app["models"]:
                    model["name"] = "Schedules"
        return app_list

    def index(self, request, extra_context=None):
        # The same rule as the review API: only a governance role (or a superuser) may read it.
        if not roles.has_role(request.user, *roles.ALL_ROLES):
            return super().index(request, {**(extra_context or {}), "review": None})
        query = PeriodQuery(data=request.GET)
        try:
            query.is_valid(raise_exception=True)
            period = query.period()
        except ValidationError as exc:
            detail = "; ".join(f"{name}: {errors[0]}" for name, errors in exc.detail.items())
            messages.warning(request, f"{detail}. Showing the default period instead.")
            period = selectors.default_period()
        review = selectors.control_plane_review(period=period)
        days = period.days
        context = {
            "review": review,
            "period": period,
            "links": period_links(period),
            "trend_charts": [(trend["domain"], trend_charts(trend, days)) for trend in review["trends"]],
            "may_sign_off": roles.is_operator(request.user),
            "sign_off_form": SignOffForm(initial={"since": period.since, "until": period.until}),
        }
        return super().index(request, {**(extra_context or {}), **context})

    @staticmethod
    def _back(period_query: str):
        return redirect(reverse("admin:index") + (f"?{period_query}" if period_query else ""))

    def sign_off_view(self, request):
        return require_POST(self._sign_off)(request)

    def _sign_off(self, request):
        if not roles.is_operator(request.user):
            raise PermissionDenied("Only governance operators may sign a review off.")
        form = SignOffForm(request.POST)
        back = urlencode({"since": request.POST.get("since", ""), "until": request.POST.get("until", "")})
        if not form.is_valid():
            errors = "; ".join(f"{name}: {' '.join(error)}" for name, error in form.errors.items())
            messages.error(request, f"The review was not signed off: {errors}")
            return self._back(back)
        try:
            signed = services.sign_off(**form.cleaned_data, actor=request.user)
        except ServiceError as exc:
            messages.error(request, f"The review was not signed off: {exc.detail}")
            return self._back(back)
        messages.success(
            request, f"Review of {signed.since:%Y-%m-%d} – {signed.until:%Y-%m-%d} signed off by {signed.signed_by}."
        )
        return self._back("")
