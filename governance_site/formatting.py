"""How numbers read on the operators' screens: rates in %, changes in percentage points, money
with its currency (GOVERNANCE_CURRENCY)."""

from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format


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


def when(moment) -> str:
    """An aware time in the business time zone: "2026-11-30 09:15 CET"."""
    return date_format(timezone.localtime(moment), "Y-m-d H:i T")


# Reason codes in words, for banners and tables (the code itself is shown next to them).
REASON_TEXT = {
    "kill_switch": "the kill switch is engaged",
    "go_live_disabled": "go-live is off",
    "state_unavailable": "the production state could not be read",
    "no_policy": "no policy for the domain",
    "policy_disabled": "the domain's policy is disabled",
    "max_action_amount": "one action above its cap",
    "max_daily_actions": "the day's action cap reached",
    "max_open_exposure": "the open-exposure cap reached",
    "max_daily_loss": "the day's loss cap reached",
    "confidence_below_min": "confidence below the minimum",
    "insufficient_trials": "not enough sandbox trials",
    "success_rate_below_min": "sandbox success rate below the minimum",
}


def reason_text(code) -> str:
    """A reason code in words: "kill_switch" → "the kill switch is engaged"; unknown codes as they are."""
    return REASON_TEXT.get(code, code or "—")
