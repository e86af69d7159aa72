from celery import shared_task

from . import services

EXPIRE_TASK = "risk.tasks.expire_due_reservations"


@shared_task(name=EXPIRE_TASK)
def expire_due_reservations() -> int:
    """Every minute (beat): expire the reservations not settled in time, freeing their exposure."""
    return services.expire_due()
