"""Reason codes and system actors of the Regression Tripwire: the same strings in the API and the docs."""

EVENT_ID_REUSED = "event_id_reused"  # 422: an event_id already stored for a different event
NOT_TRIGGERED = "not_triggered"  # 409: reset asked of a tripwire that is not triggered
NO_REBASELINE = "no_rebaseline"  # 409: undo asked of a tripwire with no rebaseline to undo

BEAT_ACTOR = "tripwire/beat"  # the periodic Celery task
CLI_ACTOR = "tripwire/cli"  # manage.py evaluate_tripwires
INGEST_ACTOR = "tripwire/ingest"  # the evaluation enqueued when KPI events arrive
