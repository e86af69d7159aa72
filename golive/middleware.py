"""ExecutionClassMiddleware: refuses every PROD_EXEC request while production may not execute."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse

from . import services
from .execution import HEADER, declared_class, effective_class
from .models import ExecutionClass


def refusal(reason: str) -> JsonResponse:
    """The 423 answer given to a production-execution request that is not allowed now."""
    return JsonResponse({"ok": False, "reason": reason}, status=423)


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
        decision = services.may_execute()
        return None if decision.ok else refusal(decision.reason)
