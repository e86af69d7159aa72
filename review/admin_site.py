from django.contrib import admin

from governance_site import roles

from .selectors import control_plane_review


class GovernanceAdminSite(admin.AdminSite):
    site_header = "Governance control plane"
    site_title = "Governance"
    index_title = "Control-plane review"
    index_template = "admin/governance_index.html"

    def index(self, request, extra_context=None):
        # The same rule as the review API: only a governance role (or a superuser) may read it.
        may_read = roles.has_role(request.user, *roles.ALL_ROLES)
        return super().index(request, {**(extra_context or {}), "review": control_plane_review() if may_read else None})
