from celery import shared_task

from . import services


@shared_task(bind=True, name="alerts.tasks.deliver", max_retries=None, ignore_result=True)
def deliver(self, delivery_id: int) -> None:
    """Send one delivery; on failure, retry after the exponential backoff the service chose."""
    retry_in = services.attempt_delivery(delivery_id=delivery_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(name="alerts.tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """Beat, every minute: re-send unacknowledged critical alerts, hand over overdue deliveries."""
    return {"resent": services.resend_unacknowledged(), "dispatched": services.dispatch_due()}
