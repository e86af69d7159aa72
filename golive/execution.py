"""Declaring a view's execution class, for engines that install these apps in their own project.

@execution_class(ExecutionClass.PROD_EXEC)
def place_offer(request): ...

class PlaceOfferApi(APIView):
    execution_class = ExecutionClass.PROD_EXEC
"""

from .models import ExecutionClass

HEADER = "X-Execution-Class"
_RANK = {ExecutionClass.SANDBOX: 0, ExecutionClass.PROD_READ: 1, ExecutionClass.PROD_EXEC: 2}


def execution_class(klass: ExecutionClass | str):
    """Decorator for function views: declares the execution class of every request they serve."""
    klass = ExecutionClass(klass)

    def decorate(view):
        view.execution_class = klass
        return view

    return decorate


def _under_api_view(view_class) -> ExecutionClass | None:
    """A declaration on the function that DRF's @api_view wrapped: the decorator may sit under
    @api_view (the usual DRF order), where api_view keeps the function only in its handlers."""
    for method in getattr(view_class, "http_method_names", ()):
        for cell in getattr(getattr(view_class, method, None), "__closure__", None) or ():
            declared = getattr(cell.cell_contents, "execution_class", None)
            if declared is not None:
                return declared
    return None


def declared_class(view_func) -> ExecutionClass | None:
    """The class declared on a function view, on a DRF/class-based view's class, or on a function
    wrapped by @api_view."""
    declared = getattr(view_func, "execution_class", None)
    if declared is None:
        view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        declared = getattr(view_class, "execution_class", None) or _under_api_view(view_class)
    return ExecutionClass(declared) if declared is not None else None


def effective_class(declared: ExecutionClass | None, header: ExecutionClass | None) -> ExecutionClass:
    """The stricter of the view's declaration and the request header; PROD_READ when neither says.

    A caller can mark its own request PROD_EXEC to have it gated, but never downgrade a view that
    declares PROD_EXEC by sending a weaker header.
    """
    candidates = [c for c in (declared, header) if c is not None] or [ExecutionClass.PROD_READ]
    return max(candidates, key=_RANK.__getitem__)
