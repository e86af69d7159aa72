"""Service errors and the one DRF exception handler that shapes them as {"detail", "field"}."""

import logging

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# The database cannot be reached, or did not answer within its timeouts (connect, statement,
# lock): the control plane cannot read its state. Decisions fail closed; anything else is a 503.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
STATE_UNAVAILABLE = "state_unavailable"  # the same reason code as golive.reasons
RETRY_AFTER_SECONDS = 5


def state_unavailable(exc: Exception) -> JsonResponse:
    """The 503 answered to any request the database could not serve, with Retry-After."""
    logger.warning("Database unavailable: %s", exc)
    response = JsonResponse(
        {
            "detail": "The control plane's state cannot be read now; try again later.",
            "field": None,
            "reason": STATE_UNAVAILABLE,
        },
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class ServiceError(Exception):
    """A rule refused the request. `field` names the input at fault, `reason` is a reason code."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, *, field: str | None = None, reason: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.reason = reason


class InvalidInput(ServiceError):
    status_code = status.HTTP_400_BAD_REQUEST


class Forbidden(ServiceError):
    status_code = status.HTTP_403_FORBIDDEN


class NotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND


class Conflict(ServiceError):
    status_code = status.HTTP_409_CONFLICT


class Unprocessable(ServiceError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


def _first_error(errors, path=()):
    """The first (field path, message) in a DRF ValidationError's nested detail."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            return _first_error(value, (*path, str(key)))
    if isinstance(errors, list) and errors:
        if all(not isinstance(item, (dict, list)) for item in errors):
            return path, str(errors[0])
        for index, item in enumerate(errors):
            if item:
                return _first_error(item, (*path, str(index)))
    return path, str(errors)


def exception_handler(exc, context):
    """Service errors and validation as {"detail", "field"}; the database unavailable as the
    view's fail-closed answer (a decision view's `state_unavailable_answer()`), else a 503."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        answer = getattr(context.get("view"), "state_unavailable_answer", None)
        if answer is None:
            return state_unavailable(exc)
        logger.warning("Database unavailable, %s fails closed: %s", type(context["view"]).__name__, exc)
        return answer()
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = {"detail": f"Request body larger than {limit:,} bytes.", "field": None, "reason": "body_too_large"}
        return Response(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, ServiceError):
        body = {"detail": exc.detail, "field": exc.field}
        if exc.reason:
            body["reason"] = exc.reason
        return Response(body, status=exc.status_code)
    if isinstance(exc, ObjectDoesNotExist):
        exc = Http404(str(exc))
    if isinstance(exc, exceptions.ValidationError):
        path, message = _first_error(exc.detail)
        field = ".".join(p for p in path if p != "non_field_errors") or None
        detail = f"{field}: {message}" if field else message
        return Response({"detail": detail, "field": field, "errors": exc.detail}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ParseError):
        return Response({"detail": f"Malformed request body: {exc.detail}", "field": None}, status=400)
    response = drf_exception_handler(exc, context)  # sets Retry-After on a 429
    if response is not None and isinstance(response.data, dict):
        response.data.setdefault("field", None)
        if isinstance(exc, exceptions.Throttled):
            response.data["reason"] = "throttled"
    return response
