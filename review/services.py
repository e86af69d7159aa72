"""Completing a control-plane review: the sign-off, audited in the same transaction."""

import datetime as dt

from django.db import transaction

from governance_site.audit import services as audit
from governance_site.audit.models import Lever
from governance_site.business_day import business_date
from governance_site.errors import InvalidInput

from .models import ReviewSignOff


@transaction.atomic
def sign_off(*, since: dt.date, until: dt.date, note: str, actor) -> ReviewSignOff:
    """Mark the review of the business days `since`–`until` done, with the reviewer's note; audited
    (`review.sign_off`, the note as its reason). The next review starts where this one ended."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("note: say what you found (or that nothing needed doing).", field="note")
    if since > until:
        raise InvalidInput("since: must not be after until.", field="since")
    if until > business_date():
        raise InvalidInput("until: must not be after today's business date.", field="until")
    signed = ReviewSignOff.objects.create(
        since=since,
        until=until,
        note=note,
        signed_by=audit.actor_name(actor),
        signed_by_user=None if isinstance(actor, str) else actor,
    )
    audit.record(actor=actor, lever=Lever.REVIEW, instance=signed, action="review.sign_off", before=None, reason=note)
    return signed
