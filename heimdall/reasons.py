"""Reason codes of the Heimdall Charter: the same strings in the API, the scorecard and the docs.

`check_prod_eligible` answers with the first reason that applies, in this order: the Go-Live
lever's own (`kill_switch`, `go_live_disabled`, `state_unavailable`, see `golive.reasons`), then
these.
"""

from golive.reasons import REFUSALS

NO_POLICY = "no_policy"  # fail closed: a domain without a policy is never eligible
POLICY_DISABLED = "policy_disabled"
CONFIDENCE_BELOW_MIN = "confidence_below_min"
# The version was demoted by a tripwire and has not yet earned production again with enough
# successful sandbox trials made after the demotion.
DEMOTED_BY_TRIPWIRE = "demoted_by_tripwire"
INSUFFICIENT_TRIALS = "insufficient_trials"
SUCCESS_RATE_BELOW_MIN = "success_rate_below_min"

ELIGIBILITY_REASONS = (
    *REFUSALS,
    NO_POLICY,
    POLICY_DISABLED,
    CONFIDENCE_BELOW_MIN,
    DEMOTED_BY_TRIPWIRE,
    INSUFFICIENT_TRIALS,
    SUCCESS_RATE_BELOW_MIN,
)
