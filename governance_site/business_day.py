"""The business day: "today" in GOVERNANCE_TIME_ZONE, for every ledger and scorecard."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def business_tz() -> ZoneInfo:
    return ZoneInfo(settings.GOVERNANCE_TIME_ZONE)


def business_date(moment: dt.datetime | None = None) -> dt.date:
    """The business date of `moment` (default: now)."""
    return (moment or timezone.now()).astimezone(business_tz()).date()


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The aware [start, end) of a business day, for range filters on timestamps."""
    tz = business_tz()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end
