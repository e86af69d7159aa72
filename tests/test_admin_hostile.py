"""Every admin changelist with hostile parameters (NUL bytes, years past 9999, impossible dates):
a 400 or a clean page, never a 500."""

import pytest
from django.contrib import admin
from django.contrib.admin import SimpleListFilter
from django.db.models import DateField, DateTimeField
from django.urls import reverse

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
# Aware where a date could be read as naive (a naive one is only a warning, turned into an error
# by the tests' settings): the last second of year 9999, the first of year 1 east of UTC.
DATES = [NUL, "9999-12-31 23:59:59+00:00", "0001-01-01 00:00:00+14:00", "10000-01-01", "99999-99-99", "2026-02-30"]


def _hostile_params(model_admin) -> list[dict]:
    model = model_admin.model
    first_field = model._meta.concrete_fields[1].name
    params = [{"q": NUL}, {"o": NUL}, {"p": NUL}, {first_field: NUL}, {f"{first_field}__in": NUL}]
    for entry in model_admin.list_filter:
        if isinstance(entry, type) and issubclass(entry, SimpleListFilter):
            params.append({entry.parameter_name: NUL})
            continue
        name = entry[0] if isinstance(entry, tuple) else entry
        params += [{name: NUL}, {f"{name}__exact": NUL}, {f"{name}__isnull": NUL}]
        field = model._meta.get_field(name.split("__")[0])
        if isinstance(field, (DateField, DateTimeField)):  # DateTimeField is a DateField too
            for value in DATES:
                params += [{f"{name}__gte": value}, {f"{name}__lt": value, f"{name}__gte": "2026-01-01 00:00:00+00:00"}]
    if model_admin.date_hierarchy:
        hierarchy = model_admin.date_hierarchy
        for year, month, day in [
            ("99999", None, None), ("9999", None, None), ("9999", "12", None), ("9999", "12", "31"),
            ("0", None, None), ("2026", "13", None), ("2026", "2", "30"), (NUL, None, None),
        ]:  # fmt: skip
            values = {f"{hierarchy}__year": year, f"{hierarchy}__month": month, f"{hierarchy}__day": day}
            params.append({key: value for key, value in values.items() if value is not None})
    return params


CASES = [
    (f"{model._meta.app_label}.{model._meta.model_name}", params)
    for model, model_admin in admin.site._registry.items()
    for params in _hostile_params(model_admin)
]


@pytest.mark.parametrize(("model", "params"), CASES, ids=[f"{m}-{sorted(p.items())!r}" for m, p in CASES])
def test_changelist__hostile_parameters__400_or_a_page_never_500(client, superuser, model, params):
    client.force_login(superuser)
    app_label, model_name = model.split(".")
    response = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"), params)
    assert response.status_code in (200, 302, 400)
