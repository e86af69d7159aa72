from celery import shared_task

from . import reasons, services


@shared_task(name="regression.tasks.evaluate_tripwires")
def evaluate_tripwires() -> dict[str, str]:
    """Evaluate every enabled tripwire (beat runs this every 5 minutes by default)."""
    return services.evaluate_all(actor=reasons.BEAT_ACTOR)


@shared_task(name="regression.tasks.evaluate_tripwire")
def evaluate_tripwire(state_id: int) -> str | None:
    """Evaluate one tripwire whose KPI events just arrived (enqueued once per policy on ingest)."""
    state = services.evaluate_queued(state_id=state_id, actor=reasons.INGEST_ACTOR)
    return state and state.status
