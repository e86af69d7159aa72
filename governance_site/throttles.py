"""Throttling: the admin login (django-axes, see settings) and the API (per token, per address).

The gate (go-live check, reserve, Heimdall check: `gates.GateApi`) is never throttled: its answers
must keep coming under any flood, and an engine that is refused a decision fails closed anyway.
"""

import hashlib

from django.conf import settings
from django.http import HttpResponse
from knox.auth import TokenAuthentication
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRate(SimpleRateThrottle):
    """The rate read from REST_FRAMEWORK's DEFAULT_THROTTLE_RATES when asked (DRF reads it once)."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class TokenThrottle(_SettingsRate):
    """Requests per credential: the API token (hashed in the cache key), or the admin session's user."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None  # an anonymous request is limited by its address
        credential = f"token:{request.auth.pk}" if getattr(request.auth, "pk", None) else f"user:{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(credential.encode()).hexdigest()}


class AddressThrottle(_SettingsRate):
    """Requests per client address, whatever the credentials (REMOTE_ADDR, or the address the
    trusted proxies in front give: REST_FRAMEWORK NUM_PROXIES). Counted once per request."""

    scope = "address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view):
        if getattr(request, "_address_counted", False):
            return True
        request._address_counted = True
        return super().allow_request(request, view)


class AddressThrottledTokenAuthentication(TokenAuthentication):
    """knox's token authentication, applying the view's address throttle first: DRF authenticates
    before it throttles, so guessed tokens would otherwise never be throttled (and each costs a
    database look-up)."""

    def authenticate(self, request):
        view = (request.parser_context or {}).get("view")
        for throttle in view.get_throttles() if view is not None else ():
            if isinstance(throttle, AddressThrottle) and not throttle.allow_request(request, view):
                raise Throttled(throttle.wait())
        return super().authenticate(request)


def login_locked_out(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer to a login while locked out: a 429 with Retry-After."""
    response = HttpResponse(
        "Too many failed logins from here or for this user: try again later, or ask an operator "
        "to unlock (manage.py axes_reset).",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
