"""Reads of change requests: the API's list and detail, the admin's queue."""

from django.utils import timezone

from governance_site.errors import NotFound

from .models import EXPIRED, ChangeRequest, Status


def get_change(change_id: int) -> ChangeRequest:
    change = ChangeRequest.objects.filter(pk=change_id).first()
    if change is None:
        raise NotFound(f"No change request {change_id}.")
    return change


def changes_in_state(state: str | None = None):
    """Change requests, newest first; `state` pending (not expired), expired, applied or rejected."""
    queryset = ChangeRequest.objects.prefetch_related("approvals")
    now = timezone.now()
    if state == Status.PENDING:
        return queryset.filter(status=Status.PENDING, expires_at__gt=now)
    if state == EXPIRED:
        return queryset.filter(status=Status.PENDING, expires_at__lte=now)
    return queryset.filter(status=state) if state else queryset
