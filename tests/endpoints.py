"""Every governance API endpoint, read from the URL configuration (so a new one is covered)."""

import re

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "/api/governance/"
PARAMETER = re.compile(r"<(?:(\w+):)?\w+>")


def _example(match: re.Match) -> str:
    """A value for a path parameter: 1 for an int, else a word."""
    return "1" if match.group(1) == "int" else "x"


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
    return sorted(
        PARAMETER.sub(_example, path) for path, cls in view_classes.items() if cls is not None and hasattr(cls, method)
    )
