"""OpenAPI documentation shared by every lever's API: the error bodies and a one-line decorator.

    @document(responses={200: Output}, errors=(400, 404))
    def post(self, request):
        '''Engage a thing (operators)

        What it does, what it answers, and when it refuses.'''

The operation's docstring is its summary (the first paragraph) and description (the rest);
`summary=` and `description=` instead, where the text is computed (e.g. it lists reason codes).
"""

import inspect

from drf_spectacular import openapi
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers

LEVER_APPS = ("golive", "risk", "heimdall", "regression")


class AutoSchema(openapi.AutoSchema):
    """Names components so that the levers' serializers never collide: a view's nested serializer
    after the view (`KillSwitchApi.InputSerializer` → `KillSwitchInput`), and each lever's after
    the lever (`risk.apis.PolicyOutput` → `RiskPolicyOutput`). A view's `InputSerializer` is its
    request body unless `document(request=...)` says otherwise; the tag is the path's first part
    after /api/governance/ (`risk`, `go-live`)."""

    def get_request_serializer(self):
        return getattr(self.view, "InputSerializer", None) or super().get_request_serializer()

    def _get_response_bodies(self, direction="response"):
        """Every operation's own answers, and those the server gives before the application is asked
        (SERVER_REFUSALS), which any request may get."""
        responses = super()._get_response_bodies(direction)
        for code, description in SERVER_REFUSALS.items():
            response = OpenApiResponse(ErrorBody, description)
            responses.setdefault(str(code), self._get_response_for_code(response, str(code), direction=direction))
        return responses

    def get_tags(self):
        return [self.path.removeprefix("/api/governance/").partition("/")[0]]

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        serializer_class = type(getattr(serializer, "child", serializer))
        outer = serializer_class.__qualname__.rpartition(".")[0]
        if outer:
            name = outer.removesuffix("Api") + name
        app = serializer_class.__module__.partition(".")[0]
        if app in LEVER_APPS and not name.lower().startswith(app):
            name = app.capitalize() + name
        return name


class AddressThrottledKnoxScheme(KnoxTokenScheme):
    """The API's token authentication is knox's behind the address throttle: the same scheme."""

    target_class = "governance_site.throttles.AddressThrottledTokenAuthentication"
    match_subclasses = True  # the token cache (governance_site.authentication): the same header


class ErrorBody(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, naming the input at fault.")
    field = serializers.CharField(allow_null=True, help_text="The input at fault, or null.")
    reason = serializers.CharField(required=False, help_text="A reason code, where the rule has one.")


ERROR_DESCRIPTIONS = {
    400: "Bad input: the body or query names the field at fault. Nothing was written.",
    401: "No or bad credentials.",
    403: "Your role may not do this.",
    404: "No such object.",
    409: "The change conflicts with the current state (the reason says which).",
    422: "The idempotency key was used before with other values.",
    429: "Too many requests from this token or address; see Retry-After (reason `throttled`).",
    503: "The control plane's state cannot be read now (reason `state_unavailable`); see Retry-After.",
}


# Answered by gunicorn itself (governance_site.gunicorn_worker), in the same JSON shape, to any
# request whose request line or headers exceed its limits (gunicorn.conf.py).
SERVER_REFUSALS = {
    414: "The request line (path and query string) is longer than the server accepts "
    "(reason `uri_too_long`). Nothing was read or written.",
    431: "Too many header fields, or one too long (reason `request_header_fields_too_large`). "
    "Nothing was read or written.",
}


def error_responses(*codes: int) -> dict:
    return {code: OpenApiResponse(ErrorBody, ERROR_DESCRIPTIONS[code]) for code in (401, *codes, 429, 503)}


def document(*, responses: dict, errors: tuple[int, ...] = (), **kwargs):
    """extend_schema with the shared error responses: 401, 429 and 503 always, then each in `errors`;
    without `summary=`, the summary and description from the method's docstring (a paragraph each,
    line breaks as spaces)."""

    def decorate(method):
        options = kwargs
        if "summary" not in kwargs and method.__doc__:
            summary, _, description = inspect.cleandoc(method.__doc__).partition("\n\n")
            options = {"summary": " ".join(summary.split()), "description": " ".join(description.split()), **kwargs}
        return extend_schema(responses={**responses, **error_responses(403, *errors)}, **options)(method)

    return decorate
