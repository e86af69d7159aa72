"""Token authentication without a query per request: a short, bounded, in-process cache.

Engines call the hot endpoints (reserve, settle, KPI, go-live check) many times a second with the
same token; looking the token up, then the user's roles, is two of the few round trips such a
request makes. `CachedCredentials` wraps the token class's own `authenticate_credentials` (it
works on any class with DRF's signature, `(key) -> (user, token)`; here django-rest-knox's,
which costs two queries and a SHA-512 per request, plus one for the roles): a key it has
verified is remembered, keyed by the key's SHA-256, with the user's governance roles, for at most
`GOVERNANCE_TOKEN_CACHE_SECONDS` (default 5; 0 turns the cache off), and never past the token's
own `expiry` when it has one. At most `GOVERNANCE_TOKEN_CACHE_SIZE` keys are kept (the oldest
goes first). Only successes are cached: a bad key is looked up every time.

Revocation: deleting (knox's logout, the admin) or saving a token, saving a user (deactivating
them), deleting a group or changing anyone's groups empties the cache of the process that made
the change at once; every
other process (gunicorn worker, Celery worker) stops honouring the revoked token within
GOVERNANCE_TOKEN_CACHE_SECONDS. A change made behind Django's back (raw SQL, `queryset.update()`)
also takes effect within that bound.
"""

import copy
import hashlib
import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from . import roles
from .throttles import AddressThrottledTokenAuthentication


class _Credentials:
    """Verified keys → (deadline on time.monotonic(), user, token), oldest first; thread-safe."""

    def __init__(self):
        self._entries: OrderedDict[str, tuple[float, object, object]] = OrderedDict()
        self._lock = threading.Lock()
        self.token_models: set[type] = set()

    def get(self, digest: str):
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[digest]
                return None
            _, user, token = entry
        return copy.copy(user), token  # each request its own user object; the roles stay on it

    def put(self, digest: str, user, token, seconds: float) -> None:
        size = settings.GOVERNANCE_TOKEN_CACHE_SIZE
        with self._lock:
            self._entries[digest] = (time.monotonic() + seconds, user, token)
            self._entries.move_to_end(digest)
            while len(self._entries) > size:
                self._entries.popitem(last=False)
        self.token_models.add(type(token))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


credentials = _Credentials()


def _seconds_left(token) -> float:
    """How long the key may be trusted without a look-up: the setting, or less when it expires."""
    seconds = float(settings.GOVERNANCE_TOKEN_CACHE_SECONDS)
    expiry = getattr(token, "expiry", None)
    if expiry is not None:
        from django.utils import timezone

        seconds = min(seconds, (expiry - timezone.now()).total_seconds())
    return seconds


class CachedCredentials:
    """Mixin for a DRF token authentication class: caches its `authenticate_credentials`."""

    def authenticate_credentials(self, key):
        if settings.GOVERNANCE_TOKEN_CACHE_SECONDS <= 0:
            return super().authenticate_credentials(key)
        raw = key if isinstance(key, bytes) else str(key).encode()
        digest = hashlib.sha256(raw).hexdigest()
        cached = credentials.get(digest)
        if cached is not None:
            return cached
        user, token = super().authenticate_credentials(key)
        roles.remember_roles(user)
        seconds = _seconds_left(token)
        if seconds > 0:
            credentials.put(digest, user, token, seconds)
            user = copy.copy(user)  # the cached one is never handed out
        return user, token


class CachedTokenAuthentication(CachedCredentials, AddressThrottledTokenAuthentication):
    """`Authorization: Token <key>`, knox's hashed, expiring tokens (the address throttle first),
    through the cache."""


def token_user(request):
    """The user a plain Django request's `Authorization: Token` header names, through the cache;
    None for no token or a bad one. For code that runs before DRF authenticates in the view (the
    execution-class middleware), without the view's throttles; the view still authenticates."""
    try:
        found = TokenAuthentication.authenticate(CachedTokenAuthentication(), request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


def _forget_all(sender, **kwargs) -> None:
    if sender in credentials.token_models or sender is get_user_model() or sender is Group:
        credentials.clear()


def _forget_on_groups_change(sender, **kwargs) -> None:
    credentials.clear()


post_delete.connect(_forget_all, dispatch_uid="governance_site.authentication.post_delete")
post_save.connect(_forget_all, dispatch_uid="governance_site.authentication.post_save")
m2m_changed.connect(
    _forget_on_groups_change,
    sender=get_user_model().groups.through,
    dispatch_uid="governance_site.authentication.groups",
)
