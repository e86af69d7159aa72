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


def declared_class(view_func) -> ExecutionClass | None:
    """The class declared on a function view or on a DRF/class-based view's class."""
    declared = getattr(view_func, "execution_class", None)
    if declared is None:
        view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        declared = getattr(view_class, "execution_class", None)
    return ExecutionClass(declared) if declared is not None else None


def effective_class(declared: ExecutionClass | None, header: ExecutionClass | None) -> ExecutionClass:
    """The stricter of the view's declaration and the request header; PROD_READ when neither says.

    A caller can mark its own request PROD_EXEC to have it gated, but never downgrade a view that
    declares PROD_EXEC by sending a weaker header.
    """
    candidates = [c for c in (declared, header) if c is not None] or [ExecutionClass.PROD_READ]
    return max(candidates, key=_RANK.__getitem__)
