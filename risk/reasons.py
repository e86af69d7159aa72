"""Reason codes of the Risk Guard: the same strings in the API, the ledger, the admin and the docs.

A denied reservation carries one of these, the first that applies in this order (DENIAL_REASONS):
the Go-Live gate's (`kill_switch` of any scope, `heartbeat_missed`, `go_live_disabled`,
`state_unavailable`), the domain's policy (`no_policy`, `policy_disabled`), the pre-action
checks (`rate_limited`, `duplicate_suspect`, `max_action_amount`, `amount_outlier`), the domain's
daily caps (`max_daily_actions`, `max_open_exposure`, `max_daily_loss`) and the firm-wide caps
(`firm_exposure`, `firm_daily_loss`). The pre-action checks and firm caps are off by default.
"""

from golive.reasons import (  # noqa: F401 (re-exported)
    GO_LIVE_DISABLED,
    HEARTBEAT_MISSED,
    KILL_SWITCH,
    REFUSALS,
    STATE_UNAVAILABLE,
)

NO_POLICY = "no_policy"
POLICY_DISABLED = "policy_disabled"
RATE_LIMITED = "rate_limited"  # the domain's, or this engine's, actions per second/minute
DUPLICATE_SUSPECT = "duplicate_suspect"  # the same engine, amount and ref within the window
MAX_ACTION_AMOUNT = "max_action_amount"
AMOUNT_OUTLIER = "amount_outlier"  # outside the collar around the domain's recent median amount
MAX_DAILY_ACTIONS = "max_daily_actions"
MAX_OPEN_EXPOSURE = "max_open_exposure"
MAX_DAILY_LOSS = "max_daily_loss"
FIRM_EXPOSURE = "firm_exposure"  # the open exposure of all domains together
FIRM_DAILY_LOSS = "firm_daily_loss"  # today's net loss of all domains together

DENIAL_REASONS = (
    *REFUSALS,
    NO_POLICY,
    POLICY_DISABLED,
    RATE_LIMITED,
    DUPLICATE_SUSPECT,
    MAX_ACTION_AMOUNT,
    AMOUNT_OUTLIER,
    MAX_DAILY_ACTIONS,
    MAX_OPEN_EXPOSURE,
    MAX_DAILY_LOSS,
    FIRM_EXPOSURE,
    FIRM_DAILY_LOSS,
)
# Why an approved reservation was cancelled (status CANCELLED): a kill switch covering it, or its
# engine's heartbeat lapsing (cancel-on-disconnect).
CANCEL_REASONS = (KILL_SWITCH, HEARTBEAT_MISSED)

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
