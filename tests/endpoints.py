"""Every governance API endpoint, read from the URL configuration (so a new one is covered)."""

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "/api/governance/"


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def api_endpoints(method: str) -> list[str]:
    """The paths of the governance API that answer `method` (e.g. "post"), sorted."""
    view_classes = {
        "/" + route: getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        for route, callback in _walk(get_resolver().url_patterns)
        if ("/" + route).startswith(API_PREFIX)
    }
    return sorted(path for path, cls in view_classes.items() if cls is not None and hasattr(cls, method))
