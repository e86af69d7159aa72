from django.contrib import admin

from .selectors import control_plane_review


class GovernanceAdminSite(admin.AdminSite):
    site_header = "Governance control plane"
    site_title = "Governance"
    index_title = "Control-plane review"
    index_template = "admin/governance_index.html"

    def index(self, request, extra_context=None):
        return super().index(request, {**(extra_context or {}), "review": control_plane_review()})
