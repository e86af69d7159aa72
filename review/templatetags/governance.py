from django import template

register = template.Library()


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.2105 → "21.1%"; None → "—"."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def signed_percent(value, digits: int = 1) -> str:
    """A change in percentage points with its sign: -0.05 → "−5.0 pp"."""
    if value is None:
        return "—"
    return f"{float(value) * 100:+.{int(digits)}f} pp".replace("-", "−")
