"""Reason codes and system actors of the alerts app: the same strings in the API, the admin and the docs."""

NOT_ACKNOWLEDGED = "not_acknowledged"  # 409: a tripwire reset before its trigger was acknowledged
ALREADY_ACKNOWLEDGED = "already_acknowledged"  # 409: acknowledging an alert twice
NO_ACKNOWLEDGEMENT_NEEDED = "no_acknowledgement_needed"  # 409: acknowledging an alert that needs none

SWEEP_ACTOR = "alerts/beat"
