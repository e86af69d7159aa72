"""Declaring a view's execution class, for engines that install these apps in their own project.

Every one of these is seen by ExecutionClassMiddleware:

@execution_class(ExecutionClass.PROD_EXEC)        # a function view (above or below @api_view)
def place_offer(request): ...

class PlaceOfferApi(APIView):
    execution_class = ExecutionClass.PROD_EXEC     # every method of a view class

    @execution_class(ExecutionClass.PROD_EXEC)    # one handler of a class-based view or APIView,
    def post(self, request): ...                  # also through method_decorator(..., name="post")

class CapitalViewSet(ViewSet):
    @execution_class(ExecutionClass.PROD_EXEC)    # a ViewSet's action (@action or create, ...)
    @action(detail=False, methods=["post"])
    def allocate(self, request): ...

A declaration it could not see (on a helper method, on a path the gate never blocks, without the
middleware installed) is an error of the start-up check (golive.checks), never silently open.
"""

import functools
import types

from .models import ExecutionClass

HEADER = "X-Execution-Class"
_RANK = {ExecutionClass.SANDBOX: 0, ExecutionClass.PROD_READ: 1, ExecutionClass.PROD_EXEC: 2}
_WRAPPER_DEPTH = 8  # decorators followed to find a declaration under them


def execution_class(klass: ExecutionClass | str):
    """Decorator for views and view methods: declares the execution class of the requests they serve."""
    klass = ExecutionClass(klass)

    def decorate(view):
        view.execution_class = klass
        return view

    return decorate


def _strictest(classes) -> ExecutionClass | None:
    classes = [ExecutionClass(c) for c in classes if c is not None]
    return max(classes, key=_RANK.__getitem__) if classes else None


def declared_on(func) -> ExecutionClass | None:
    """The declaration on a function or on what it wraps: through functools.wraps (`__wrapped__`),
    partials, and decorators that keep the function in their closure (DRF's @api_view keeps it only
    in its handlers, a decorator without functools.wraps in its closure)."""
    found, seen, level = [], set(), [func]
    for _ in range(_WRAPPER_DEPTH):
        following = []
        for candidate in level:
            if id(candidate) in seen:
                continue
            seen.add(id(candidate))
            found.append(getattr(candidate, "execution_class", None))
            inner = [getattr(candidate, "__wrapped__", None), getattr(candidate, "func", None)]
            inner += [cell.cell_contents for cell in getattr(candidate, "__closure__", None) or () if _filled(cell)]
            following += [c for c in inner if isinstance(c, (types.FunctionType, types.MethodType, functools.partial))]
        level = following
    return _strictest(found)


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell
        return False
    return True


def view_class_of(view_func):
    """The class behind an as_view() function (Django's view_class, DRF's cls), or None."""
    return getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)


def handler_name(view_func, method: str) -> str | None:
    """The name of the method of the view's class that serves `method` (a ViewSet maps it to its
    action), or None for a function view or a method the view does not serve."""
    view_class = view_class_of(view_func)
    if view_class is None:
        return None
    method = method.lower()
    actions = getattr(view_func, "actions", None)
    if actions is not None:
        return actions.get(method) or (actions.get("get") if method == "head" else None)
    if method == "head" and not hasattr(view_class, "head"):
        return "get"
    return method if hasattr(view_class, method) else None


@functools.lru_cache(maxsize=4096)
def declared_class(view_func, method: str = "get") -> ExecutionClass | None:
    """The strictest class declared for a `method` request to this view: on the function view (or
    under its decorators), on the view's class, or on the class's handler of that method."""
    view_class = view_class_of(view_func)
    name = handler_name(view_func, method)
    return _strictest(
        [
            declared_on(view_func),
            getattr(view_class, "execution_class", None),
            declared_on(getattr(view_class, name)) if name else None,
        ]
    )


def effective_class(declared: ExecutionClass | None, header: ExecutionClass | None) -> ExecutionClass:
    """The stricter of the view's declaration and the request header; PROD_READ when neither says.

    A caller can mark its own request PROD_EXEC to have it gated, but never downgrade a view that
    declares PROD_EXEC by sending a weaker header.
    """
    return _strictest([declared, header]) or ExecutionClass.PROD_READ
