"""API tokens (django-rest-knox): only a SHA-512 digest of each token is stored, so the database
never holds a usable credential; each token has an expiry (REST_KNOX["TOKEN_TTL"], from
API_TOKEN_TTL_DAYS); revoking a token is deleting it (admin: Knox → Auth tokens)."""

import datetime as dt

from knox.models import AuthToken
from knox.settings import knox_settings


def issue(*, user, days: int | None = None) -> tuple[AuthToken, str]:
    """A new token for `user`, expiring in `days` (default: the configured TTL): (stored row, the
    token). The token itself is shown this once and never stored."""
    if days is not None and days < 1:
        raise ValueError("days: a token lives at least one day")
    ttl = dt.timedelta(days=days) if days is not None else knox_settings.TOKEN_TTL
    return AuthToken.objects.create(user=user, expiry=ttl)
