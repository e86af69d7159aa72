from decimal import Decimal

import pytest

from governance_site.formatting import money, percent, signed_points


@pytest.mark.parametrize(("value", "shown"), [(0.2105, "21.1%"), (1, "100.0%"), (0, "0.0%"), (None, "—")])
def test_percent(value, shown):
    assert percent(value) == shown


@pytest.mark.parametrize(("value", "shown"), [(-0.05, "−5.0 pp"), (0.125, "+12.5 pp"), (None, "—")])
def test_signed_points(value, shown):
    assert signed_points(value) == shown


def test_money__with_the_configured_currency(settings):
    settings.GOVERNANCE_CURRENCY = "EUR"
    assert money(Decimal("18000")) == "18,000.00 EUR"
    assert money(Decimal("-35.2")) == "-35.20 EUR"
    assert money(None) == "—"
