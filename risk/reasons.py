"""Reason codes of the Risk Guard: the same strings in the API, the ledger, the admin and the docs.

A denied reservation carries one of these, the first that applies in this order.
"""

from golive.reasons import GO_LIVE_DISABLED, KILL_SWITCH, REFUSALS, STATE_UNAVAILABLE  # noqa: F401 (re-exported)

NO_POLICY = "no_policy"
POLICY_DISABLED = "policy_disabled"
MAX_ACTION_AMOUNT = "max_action_amount"
MAX_DAILY_ACTIONS = "max_daily_actions"
MAX_OPEN_EXPOSURE = "max_open_exposure"
MAX_DAILY_LOSS = "max_daily_loss"

DENIAL_REASONS = (
    *REFUSALS,
    NO_POLICY,
    POLICY_DISABLED,
    MAX_ACTION_AMOUNT,
    MAX_DAILY_ACTIONS,
    MAX_OPEN_EXPOSURE,
    MAX_DAILY_LOSS,
)

# Refusals of settle/release (409 closed or expired, 403 not the reserver's) and of an
# idempotency key reused with other values (422).
RESERVATION_CLOSED = "reservation_closed"
RESERVATION_EXPIRED = "reservation_expired"
NOT_RESERVATION_OWNER = "not_reservation_owner"
IDEMPOTENCY_MISMATCH = "idempotency_key_reused"

# The start of the audit reason of a tripwire's throttle (risk.services.throttle_domain).
THROTTLE_PREFIX = "Throttle: "

# A replayed idempotency key of an approved reservation answers `ok: false` with one of these,
# the first that applies: the reservation is no longer open (expired, or settled/released), or
# production may not execute now. The ledger keeps the first decision.
REPLAY_REFUSALS = (RESERVATION_EXPIRED, RESERVATION_CLOSED, *REFUSALS)

# Every reason a reserve's answer may carry.
ANSWER_REASONS = (*DENIAL_REASONS, RESERVATION_EXPIRED, RESERVATION_CLOSED)
