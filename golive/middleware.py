"""ExecutionClassMiddleware: refuses every PROD_EXEC request while production may not execute."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse

from governance_site.authentication import token_user

from . import services
from .execution import HEADER, declared_class, effective_class
from .models import ExecutionClass

DOMAIN_HEADER = "X-Governance-Domain"
MODEL_VERSION_HEADER = "X-Model-Version"


def refusal(decision: services.Decision) -> JsonResponse:
    """The 423 answer given to a production-execution request that is not allowed now: the reason,
    the refusing scope and who engaged it."""
    return JsonResponse(decision.as_dict(), status=423)


def _scope_of(request, view_kwargs) -> dict:
    """The domain, engine and model version a request acts for: the view's `domain` argument or the
    X-Governance-Domain header, the authenticated user (the session's, or the API token's: DRF
    authenticates only later, in the view), the X-Model-Version header. They can only add refusals
    (a kill of that scope), never lift one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        user = token_user(request)
    return {
        "domain": (view_kwargs.get("domain") or request.headers.get(DOMAIN_HEADER) or "").strip().upper() or None,
        "engine": user.get_username() if user is not None else None,
        "model_version": (request.headers.get(MODEL_VERSION_HEADER) or "").strip() or None,
    }


class ExecutionClassMiddleware:
    def __init__(self, get_response):
        # Loaded when the server starts (runserver, gunicorn, uvicorn): a declaration this
        # middleware could not see stops it there, even where `manage.py check` was never run.
        from .checks import check_execution_classes

        errors = check_execution_classes(None)
        if errors:
            raise ImproperlyConfigured("\n".join(str(error) for error in errors))
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        raw = request.headers.get(HEADER)
        header = None
        if raw is not None:
            try:
                header = ExecutionClass(raw.strip().upper())
            except ValueError:
                allowed = ", ".join(ExecutionClass.values)
                return JsonResponse({"detail": f"{HEADER} must be one of {allowed}.", "field": HEADER}, status=400)
        if request.path.startswith(tuple(settings.GOVERNANCE_UNGATED_PATH_PREFIXES)):
            return None  # the admin and the governance API stay reachable so operators can recover
        request.execution_class = effective_class(declared_class(view_func, request.method), header)
        if request.execution_class != ExecutionClass.PROD_EXEC:
            return None
        decision = services.may_execute(**_scope_of(request, view_kwargs))
        return None if decision.ok else refusal(decision)
