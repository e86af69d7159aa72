"""How numbers read on the operators' screens: rates in %, changes in percentage points, money
with its currency (GOVERNANCE_CURRENCY)."""

from decimal import Decimal

from django.conf import settings


def percent(value, digits: int = 1) -> str:
    """0.2105 → "21.1%"; None → "—"."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


def signed_points(value, digits: int = 1) -> str:
    """A change of a rate, in percentage points with its sign: -0.05 → "−5.0 pp"; None → "—"."""
    if value is None:
        return "—"
    return f"{float(value) * 100:+.{int(digits)}f} pp".replace("-", "−")


def money(value) -> str:
    """Decimal("18000") → "18,000.00 USD"; None → "—"."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(value):,.2f} {settings.GOVERNANCE_CURRENCY}"
