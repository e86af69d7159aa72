"""The start-up check: a PROD_EXEC declaration the middleware cannot see stops the service."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from golive.checks import check_execution_classes
from golive.middleware import ExecutionClassMiddleware


def ids(errors) -> list[str]:
    return sorted(error.id for error in errors)


def test_check__every_declaration_seen__no_errors(settings):
    settings.ROOT_URLCONF = "tests.golive.urls"
    assert check_execution_classes(None) == []


def test_check__declaration_on_a_helper_method_or_an_ungated_path__errors(settings):
    settings.ROOT_URLCONF = "tests.golive.unseen_urls"
    errors = check_execution_classes(None)
    assert ids(errors) == ["golive.E001", "golive.E002"]
    assert all(error.level == checks.ERROR for error in errors)
    assert "PlaceOfferView.place" in " ".join(error.msg for error in errors)
    assert "/api/governance/engine/settle" in " ".join(error.msg for error in errors)


def test_check__middleware_missing__error(settings):
    settings.ROOT_URLCONF = "tests.golive.urls"
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "ExecutionClassMiddleware" not in m]
    assert ids(check_execution_classes(None)) == ["golive.E003"]


def test_check__registered_with_django():
    assert check_execution_classes in checks.registry.registry.get_checks()


def test_middleware__loaded_with_an_unseen_declaration__refuses_to_start(settings):
    settings.ROOT_URLCONF = "tests.golive.unseen_urls"
    with pytest.raises(ImproperlyConfigured, match="PlaceOfferView.place"):
        ExecutionClassMiddleware(lambda request: None)
