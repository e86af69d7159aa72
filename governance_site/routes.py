"""A lever's API routes from one table."""

from collections.abc import Mapping

from django.urls import URLPattern, path


def routes(apis, table: Mapping[str, type]) -> list[URLPattern]:
    """`path(route, view)` for each row of `table`, after `policies` and `policies/upsert` when the
    lever's apis module has a policy (`policy_apis.views`); each named `<lever>-<route>`, slashes
    as hyphens (`regression-kpi-batch`)."""
    lever = apis.__name__.partition(".")[0]
    if hasattr(apis, "PolicyUpsertApi"):
        table = {"policies": apis.PolicyListApi, "policies/upsert": apis.PolicyUpsertApi, **table}
    return [path(route, view.as_view(), name=f"{lever}-{route.replace('/', '-')}") for route, view in table.items()]
