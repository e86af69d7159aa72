from celery import shared_task

from . import reasons, services


@shared_task(name="regression.tasks.evaluate_tripwires")
def evaluate_tripwires() -> dict[str, str]:
    """Evaluate every enabled tripwire (beat runs this every 5 minutes by default)."""
    return services.evaluate_all(actor=reasons.BEAT_ACTOR)
