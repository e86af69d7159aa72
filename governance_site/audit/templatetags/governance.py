"""Template filters for the admin: {{ rate|percent }}, {{ change|signed_points }}, {{ amount|money }},
{{ code|reason_text }}."""

from django import template

from governance_site import formatting

register = template.Library()
register.filter("percent", formatting.percent)
register.filter("signed_points", formatting.signed_points)
register.filter("money", formatting.money)
register.filter("reason_text", formatting.reason_text)
