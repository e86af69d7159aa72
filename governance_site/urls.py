from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from approvals.apis import ChangeListApi
from governance_site.alerts.apis import AlertListApi
from governance_site.audit.apis import AuditListApi
from review.apis import ReviewApi, SignOffApi, SignOffListApi


@csrf_exempt  # a POST to an unknown path is a JSON 404, not Django's HTML page for a missing CSRF cookie
def api_not_found(request, *args, **kwargs):
    """Every unknown path under /api/ answers JSON, like every other API error. Endpoints have no
    trailing slash: a path that matches one once the slash is gone says so."""
    detail = f"No such endpoint: {request.path}."
    if request.path.endswith("/") and request.path.startswith("/api/governance/"):
        detail += f" Endpoints have no trailing slash: try {request.path.rstrip('/')}."
    return JsonResponse({"detail": detail, "field": None}, status=404)


def api_docs(request, *args, **kwargs):
    """Swagger UI. A browser without a session goes to the admin login and comes back (the page
    reads the schema, which needs a session or a token); a client sending a token gets the page."""
    if not request.user.is_authenticated and "HTTP_AUTHORIZATION" not in request.META:
        return redirect_to_login(request.get_full_path())
    # The split view serves its script from a URL (?script): the Content-Security-Policy allows
    # no inline script.
    return SpectacularSwaggerSplitView.as_view(url_name="api-schema")(request, *args, **kwargs)


api_patterns = [
    path("audit", AuditListApi.as_view(), name="audit-list"),
    path("alerts", AlertListApi.as_view(), name="alerts-list"),
    path("alerts/", include("governance_site.alerts.urls")),
    path("changes", ChangeListApi.as_view(), name="changes-list"),
    path("changes/", include("approvals.urls")),
    path("review", ReviewApi.as_view(), name="review"),
    path("review/sign-offs", SignOffListApi.as_view(), name="review-sign-offs"),
    path("review/sign-off", SignOffApi.as_view(), name="review-sign-off"),
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
    path("api/docs/", api_docs, name="api-docs"),
    re_path(r"^api/", api_not_found),
]
