from celery import shared_task

from . import services

HEARTBEAT_TASK = "golive.tasks.disconnect_silent_engines"


@shared_task(name=HEARTBEAT_TASK)
def disconnect_silent_engines() -> list[str]:
    """Every 10 seconds (beat): cancel-on-disconnect for every engine silent past its allowance."""
    return services.disconnect_silent()
