from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ReviewConfig(AppConfig):
    """The Monday control-plane review (selectors, API, the admin's landing page template)."""

    default = True
    name = "review"
    verbose_name = "Control-plane review"


class GovernanceAdminConfig(admin_apps.AdminConfig):
    """The Django admin, with the control-plane review as its landing page."""

    default = False
    default_site = "review.admin_site.GovernanceAdminSite"
