"""The Risk Guard's admin: policies with today's usage, the read-only ledger, a "today" page per domain.

Every change goes through the services (`actor=request.user`), so it is validated and audited.
"""

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from governance_site import admin_tools, charts
from governance_site.admin_tools import AppendOnlyAdminMixin, EstimatedCountPaginator, PolicyAdminMixin
from governance_site.formatting import money, when

from . import reasons, selectors, services
from .models import FirmRiskPolicy, Reservation, RiskPolicy, Status, net_loss

STATUS_COLOURS = {
    Status.RESERVED: "#1f5fa8",
    Status.SETTLED: "#1b7f3b",
    Status.RELEASED: "#666",
    Status.EXPIRED: "#8a6d00",
    Status.DENIED: "#b00020",
    Status.CANCELLED: "#7a1fa2",
}


def usage(used: int | Decimal, cap: int | Decimal):
    """`used` of `cap` as a bar and figures (a cap of 0 allows nothing: shown full)."""
    shown = f"{money(used)} / {money(cap)}" if isinstance(cap, Decimal) else f"{used} / {cap}"
    return format_html("{} {}", charts.usage_bar(used / cap if cap else 1.0, shown), shown)


@admin.register(RiskPolicy)
class RiskPolicyAdmin(PolicyAdminMixin, admin.ModelAdmin):
    contract = services.POLICY
    # The "today" link next to the domain: on a 1366 px screen it shows without scrolling sideways.
    list_display = [
        "domain", "today_link", "enabled_label", "actions_today", "exposure_now", "loss_today", "max_action",
        "reservation_ttl_seconds", "changed_by", "updated_at",
    ]  # fmt: skip
    list_filter = ["enabled"]
    search_fields = ["domain"]
    actions = ["enable_policies", "disable_policies"]

    def get_queryset(self, request):
        return selectors.policies_with_usage()

    def save_model(self, request, obj, form, change):
        throttle = selectors.throttle(obj.domain) if change else None
        super().save_model(request, obj, form, change)
        if throttle is not None and obj.enabled:
            self.warn_throttle_lifted(request, obj.domain, throttle)

    def warn_throttle_lifted(self, request, domain: str, throttle) -> None:
        """Re-enabling a throttled policy is allowed, and said out loud (the audit records it too)."""
        self.message_user(
            request,
            f"{domain} was throttled by a tripwire ({throttle.reason.removeprefix('Throttle: ')}, "
            f"{throttle.created_at:%Y-%m-%d %H:%M %Z}); the throttle is now lifted by {request.user}. The "
            "tripwire stays triggered until it is reset, and if it fires again it throttles again.",
            messages.WARNING,
        )

    @admin.display(description="Enabled", ordering="enabled")
    def enabled_label(self, policy):
        colour, label = ("#1b7f3b", "ENABLED") if policy.enabled else ("#b00020", "DISABLED")
        return format_html('<strong style="color:{}">{}</strong>', colour, label)

    @admin.display(description="Actions today")
    def actions_today(self, policy):
        return usage(policy.actions_used, policy.max_daily_actions)

    @admin.display(description="Open exposure")
    def exposure_now(self, policy):
        return usage(policy.open_exposure, policy.max_open_exposure)

    @admin.display(description="Loss today")
    def loss_today(self, policy):
        return usage(net_loss(policy.realized_pnl), policy.max_daily_loss)

    @admin.display(description="Max action amount", ordering="max_action_amount")
    def max_action(self, policy):
        return money(policy.max_action_amount) if policy.max_action_amount is not None else "no limit"

    @admin.display(description="")
    def today_link(self, policy):
        return format_html('<a href="{}">today →</a>', reverse("admin:risk_riskpolicy_today", args=[policy.pk]))

    # Enable / disable with a reason --------------------------------------------------------

    enable_policies, disable_policies = admin_tools.switch_actions("_confirm_switch", "enabled", "policies")

    def _confirm_switch(self, request, queryset, *, enabled: bool):
        title = "Enable" if enabled else "Disable"
        throttles = {policy.domain: selectors.throttle(policy.domain) for policy in queryset} if enabled else {}
        throttles = {domain: event for domain, event in throttles.items() if event is not None}

        def apply(reason):
            done = admin_tools.apply_to_selection(
                self, request, queryset, done=f"{title}d",
                call=lambda policy: services.set_enabled(
                    domain=policy.domain, enabled=enabled, reason=reason, actor=request.user
                ),
            )  # fmt: skip
            if done:
                for domain, throttle in throttles.items():
                    self.warn_throttle_lifted(request, domain, throttle)

        return admin_tools.confirm_with_reason(
            self, request, queryset, apply,
            title=title,
            what="the risk policy of",
            consequence="These domains may reserve again, within their caps." if enabled else
            f"Every reserve of these domains is denied (reason {reasons.POLICY_DISABLED}) until a policy is "
            "enabled again.",
            danger=not enabled,
            notes={
                f"throttle-{domain}": f"{domain} is throttled by a tripwire: “{throttle.reason}” "
                f"({when(throttle.created_at)}). Enabling it lifts that throttle; the audit trail records it "
                "as lifted by you."
                for domain, throttle in throttles.items()
            },
        )  # fmt: skip

    # Today page ----------------------------------------------------------------------------

    def get_urls(self):
        return [
            path("<int:pk>/today/", self.admin_site.admin_view(self.today_view), name="risk_riskpolicy_today"),
            *super().get_urls(),
        ]

    def today_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        policy = get_object_or_404(self.get_queryset(request), pk=pk)
        ledger = selectors.ledger(domain=policy.domain)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{policy.domain} today",
            "opts": self.model._meta,
            "policy": policy,
            "date": ledger["date"],
            "day": ledger["domains"][0] if ledger["domains"] else None,
            "usage": [
                ("Actions", self.actions_today(policy)),
                ("Open exposure", self.exposure_now(policy)),
                ("Loss", self.loss_today(policy)),
            ],
            "entries": Reservation.objects.filter(domain=policy.domain, business_date=ledger["date"])[:50],
        }
        return TemplateResponse(request, "admin/risk/riskpolicy/today.html", context)


class DomainFilter(admin.SimpleListFilter):
    """The domains that have a policy (cheaper than a DISTINCT over the whole ledger)."""

    title = "domain"
    parameter_name = "domain"

    def lookups(self, request, model_admin):
        return [(domain, domain) for domain in RiskPolicy.objects.values_list("domain", flat=True)]

    def queryset(self, request, queryset):
        return queryset.filter(domain=self.value()) if self.value() else queryset


@admin.register(Reservation)
class ReservationAdmin(AppendOnlyAdminMixin, admin.ModelAdmin):
    """The ledger: written by the services only, never edited here."""

    list_display = [
        "id", "created_at", "domain", "amount_money", "status_label", "reason", "pnl_money", "ref", "actor",
        "model_version", "expires_at", "settled_at", "settled_after_cancel", "detail",
    ]  # fmt: skip
    # No date_hierarchy: its month links need a DISTINCT over the whole ledger (and MIN/MAX over
    # every search); the business_date filter (today, past 7 days, this month, this year) costs nothing.
    list_filter = [DomainFilter, "status", "reason", "business_date"]
    # Exact, case-sensitive matches ("=ref" compares UPPER(ref), which no index can answer); the
    # domain has its filter.
    search_fields = ["ref__exact", "idempotency_key__exact"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_select_related = False

    @admin.display(description="Amount", ordering="amount")
    def amount_money(self, entry):
        return money(entry.amount)

    @admin.display(description="Realized P&L", ordering="realized_pnl")
    def pnl_money(self, entry):
        return money(entry.realized_pnl)

    @admin.display(description="Status", ordering="status")
    def status_label(self, entry):
        return format_html('<strong style="color:{}">{}</strong>', STATUS_COLOURS[entry.status], entry.status)


@admin.register(FirmRiskPolicy)
class FirmRiskPolicyAdmin(PolicyAdminMixin, admin.ModelAdmin):
    """Caps across all domains together (one row); empty: off."""

    contract = services.FIRM_POLICY
    list_display = ["__str__", "max_open_exposure", "max_daily_loss", "changed_by", "updated_at"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not FirmRiskPolicy.objects.exists()
