"""Middleware of the whole site: hostile input and an unavailable database answered cleanly."""

import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from .database import request_budget
from .errors import UNAVAILABLE_ERRORS, state_unavailable

logger = logging.getLogger(__name__)


def _is_admin(request) -> bool:
    return request.path.startswith(reverse("admin:index"))


def _out_of_range(exception) -> bool:
    """A date built from a filter that falls outside year 1..9999 (OverflowError, or datetime's
    "year 10000 is out of range")."""
    return isinstance(exception, OverflowError) or (
        isinstance(exception, ValueError) and str(exception).endswith("is out of range")
    )


class DatabaseBudgetMiddleware:
    """One budget (DATABASE_REQUEST_BUDGET_MS) for all of a request's waits on the database, first
    in the chain so that it covers every middleware too: once the database is found unavailable or
    the budget is spent, each later call fails at once, and the request answers `state_unavailable`
    (a decision) or a 503, instead of reconnecting and waiting again (governance_site.database)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_budget(settings.DATABASE_REQUEST_BUDGET_MS):
            return self.get_response(request)


class HostileInputMiddleware:
    """What no view should have to handle itself:

    - a NUL byte in the query string: no parameter of this site holds one, and PostgreSQL refuses
      it in any string (a 500 in every admin list and API filter): a 400 before any view;
    - the database unavailable outside DRF's exception handler (the admin, plain Django views):
      the same JSON 503 with Retry-After, never an HTML 500 with a stack trace;
    - an admin list filtered to a date outside year 1..9999 (date_hierarchy's year 9999, a
      `__gte` of year 1 east of UTC): Django's own "invalid filter" page (?e=1), not a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.META.get("QUERY_STRING", "") or any(
            "\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values
        ):
            detail = "Query parameters must not contain NUL bytes."
            if _is_admin(request):
                return HttpResponse(detail, status=400, content_type="text/plain; charset=utf-8")
            return JsonResponse({"detail": detail, "field": None}, status=400)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, UNAVAILABLE_ERRORS):
            return state_unavailable(exception)
        if request.method == "GET" and request.GET and _is_admin(request) and _out_of_range(exception):
            logger.warning("Admin filter out of range on %s: %s", request.get_full_path(), exception)
            return HttpResponseRedirect(f"{request.path}?e=1")
        return None
