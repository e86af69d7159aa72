"""Middleware of the whole site."""

from .errors import UNAVAILABLE_ERRORS, state_unavailable


class DatabaseUnavailableMiddleware:
    """The database unavailable outside DRF's exception handler (the admin, plain Django views):
    the same JSON 503 with Retry-After, never an HTML 500 with a stack trace."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return state_unavailable(exception) if isinstance(exception, UNAVAILABLE_ERRORS) else None
