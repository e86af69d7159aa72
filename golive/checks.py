"""The start-up check: every execution-class declaration is one the middleware sees.

A PROD_EXEC declaration the middleware cannot see would run while production is off; the service
refuses to start instead (`manage.py check`, runserver, migrate and gunicorn's preload all run it).
"""

import inspect

from django.conf import settings
from django.core import checks
from django.urls import URLPattern, URLResolver, get_resolver

from .execution import declared_class, declared_on, view_class_of
from .models import ExecutionClass

MIDDLEWARE = "golive.middleware.ExecutionClassMiddleware"


def _routes(patterns, prefix="/"):
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^")
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def _declared_members(view_class) -> dict[str, ExecutionClass]:
    """The methods of a view class (and its bases) that carry a declaration, by name."""
    members = {}
    for name, member in inspect.getmembers(view_class, callable):
        if not inspect.isclass(member) and (declared := declared_on(member)) is not None:
            members[name] = declared
    return members


def _handlers(view_func) -> set[str]:
    """The names of the methods that serve requests through this routed view."""
    actions = getattr(view_func, "actions", None)
    if actions is not None:
        return set(actions.values())
    return set(getattr(view_class_of(view_func), "http_method_names", ()))


@checks.register()
def check_execution_classes(app_configs, **kwargs):
    errors, served, declared_members = [], {}, {}
    routes = list(_routes(get_resolver().url_patterns))
    ungated = tuple(settings.GOVERNANCE_UNGATED_PATH_PREFIXES)
    any_declared = False
    for route, view_func in routes:
        view_class = view_class_of(view_func)
        if view_class is not None:
            served.setdefault(view_class, set()).update(_handlers(view_func))
            declared_members.setdefault(view_class, _declared_members(view_class))
        methods = ["get", "post", "put", "patch", "delete"]
        if any(declared_class(view_func, method) == ExecutionClass.PROD_EXEC for method in methods):
            any_declared = True
            if route.startswith(ungated):
                errors.append(
                    checks.Error(
                        f"{route} declares PROD_EXEC but is under GOVERNANCE_UNGATED_PATH_PREFIXES "
                        f"({', '.join(ungated)}): the gate never blocks it.",
                        hint="Route production execution outside the ungated prefixes.",
                        id="golive.E002",
                    )
                )
    for view_class, members in declared_members.items():
        for name, declared in sorted(members.items()):
            any_declared = True
            if name not in served[view_class]:
                errors.append(
                    checks.Error(
                        f"{view_class.__qualname__}.{name} declares {declared} but serves no request "
                        "itself: the middleware only sees the function view, the view class and "
                        "the handler of the request's method (or the ViewSet action).",
                        hint="Declare it on the handler (get, post, ... or the @action) or on the class.",
                        obj=view_class,
                        id="golive.E001",
                    )
                )
    if any_declared and MIDDLEWARE not in settings.MIDDLEWARE:
        errors.append(
            checks.Error(
                f"Views declare an execution class but {MIDDLEWARE} is not in MIDDLEWARE: nothing gates them.",
                id="golive.E003",
            )
        )
    return errors
