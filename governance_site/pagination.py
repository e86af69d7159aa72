"""The API's page numbers: a page that does not exist is bad input, answered like any other."""

from rest_framework import pagination
from rest_framework.exceptions import NotFound

from .errors import InvalidInput


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF's, but `?page=0`, `?page=-3`, `?page=x` or a page past the end is a 400 naming `page`
    (documented on every list), not an undocumented 404."""

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise InvalidInput(f"page: {exc.detail}", field="page") from exc
