"""Policies edited through the audited service, trials read-only, and the Friday scorecard page."""

import datetime as dt

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from governance_site.admin_tools import AppendOnlyAdminMixin, EstimatedCountPaginator, PolicyAdminMixin
from governance_site.business_day import business_date
from governance_site.charts import Series, multi_series_chart
from governance_site.fields import BusinessDayQuery

from . import selectors, services
from .models import HeimdallPolicy, ModelDemotion, SandboxTrial

CHART_DAYS = 14  # business days of success rates drawn above the scorecard


def _status(ok: bool, text: str):
    return format_html('<strong style="color: {}">{}</strong>', "#1b7f3b" if ok else "#b00020", text)


@admin.register(HeimdallPolicy)
class HeimdallPolicyAdmin(PolicyAdminMixin, admin.ModelAdmin):
    contract = services.POLICY
    list_display = [
        "domain", "status", "min_confidence_prod", "min_sandbox_trials", "min_success_rate",
        "trial_window_days", "changed_by", "updated_at",
    ]  # fmt: skip
    list_filter = ["enabled"]
    search_fields = ["domain"]

    @admin.display(description="Status", ordering="enabled")
    def status(self, obj):
        return _status(obj.enabled, "ENABLED" if obj.enabled else "DISABLED")

    def get_urls(self):
        scorecard = self.admin_site.admin_view(self.scorecard_view)
        return [path("scorecard/", scorecard, name="heimdall_scorecard"), *super().get_urls()]

    def scorecard_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = business_date()
        query = BusinessDayQuery(data={"date": request.GET["date"]} if request.GET.get("date") else {})
        day = query.validated_data.get("date", today) if query.is_valid() else today
        dates, rates = selectors.daily_success_rates(days=CHART_DAYS, until=day)
        chart = None
        if rates:
            chart = multi_series_chart(
                title=f"Sandbox success rate per business day, {dates[0]:%d %b} to {dates[-1]:%d %b %Y}",
                series=[Series(domain, values) for domain, values in rates.items()],
                x_labels=[f"{date:%a %d}" for date in dates],
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Heimdall scorecard, {day:%A %d %B %Y}",
            "opts": self.model._meta,
            "day": day,
            "previous_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1) if day < today else None,
            "rows": selectors.scorecard(day=day),
            "chart": chart,
            "chart_days": CHART_DAYS,
            "chart_start": dates[0],
        }
        return TemplateResponse(request, "admin/heimdall/scorecard.html", context)


class DomainFilter(admin.SimpleListFilter):
    """The domains that have a policy (not a DISTINCT over every trial)."""

    title = parameter_name = "domain"

    def lookups(self, request, model_admin):
        return [(domain, domain) for domain in selectors.policy_list().values_list("domain", flat=True)]

    def queryset(self, request, queryset):
        return queryset.filter(domain=self.value()) if self.value() else queryset


class ModelVersionFilter(admin.SimpleListFilter):
    """The model versions of the latest trials (read newest first through the time index, not a
    DISTINCT over every trial); any version can still be asked for with ?model_version=."""

    title = "model version"
    parameter_name = "model_version"
    recent_trials = 10_000

    def lookups(self, request, model_admin):
        latest = SandboxTrial.objects.order_by("-created_at").values("pk")[: self.recent_trials]
        versions = SandboxTrial.objects.filter(pk__in=latest).exclude(model_version="").order_by("model_version")
        return [(version, version) for version in versions.values_list("model_version", flat=True).distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(model_version=self.value()) if self.value() else queryset


@admin.register(SandboxTrial)
class SandboxTrialAdmin(AppendOnlyAdminMixin, admin.ModelAdmin):
    """Append-only: trials are recorded by engines through the API and never edited."""

    list_display = [
        "created_at", "domain", "model_version", "outcome", "confidence", "recommendation_ref", "actor",
    ]  # fmt: skip
    # No "domain"/"model_version" field filters nor date_hierarchy: each needs a DISTINCT over every
    # trial; the created_at filter (today, past 7 days, this month, this year) costs nothing.
    list_filter = [DomainFilter, ModelVersionFilter, "success", "created_at"]
    search_fields = ["recommendation_ref__exact"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="Outcome", ordering="success")
    def outcome(self, obj):
        return _status(obj.success, "SUCCESS" if obj.success else "FAILURE")


@admin.register(ModelDemotion)
class ModelDemotionAdmin(AppendOnlyAdminMixin, admin.ModelAdmin):
    """Model versions a tripwire demoted: written by the Regression Tripwire only. A version is
    eligible again once sandbox trials made after `demoted_at` pass the domain's gates."""

    list_display = ["domain", "model_version", "demoted_at", "demoted_by", "reason"]
    list_filter = [DomainFilter]
    search_fields = ["model_version"]
