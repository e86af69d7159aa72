from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from governance_site.audit.apis import AuditListApi
from review.apis import ReviewApi

api_patterns = [
    path("audit", AuditListApi.as_view(), name="audit-list"),
    path("review", ReviewApi.as_view(), name="review"),
    path("go-live/", include("golive.urls")),
    path("risk/", include("risk.urls")),
    path("heimdall/", include("heimdall.urls")),
    path("regression/", include("regression.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index")),
    path("admin/", admin.site.urls),
    path("api/governance/", include(api_patterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view loads its script from a URL: the Content-Security-Policy allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
