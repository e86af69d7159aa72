"""Reason codes and system actors of the Regression Tripwire: the same strings in the API and the docs."""

EVENT_ID_REUSED = "event_id_reused"  # 422: an event_id already stored for a different event
NOT_TRIGGERED = "not_triggered"  # 409: reset asked of a tripwire that is not triggered

BEAT_ACTOR = "tripwire/beat"  # the periodic Celery task
CLI_ACTOR = "tripwire/cli"  # manage.py evaluate_tripwires
