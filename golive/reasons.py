"""Reason codes of the Go-Live lever: the same strings in the API, the ledgers and the docs."""

KILL_SWITCH = "kill_switch"
GO_LIVE_DISABLED = "go_live_disabled"
STATE_UNAVAILABLE = "state_unavailable"
# Why production may not execute now (a 423, a denial, an ineligible answer), in this order.
REFUSALS = (KILL_SWITCH, GO_LIVE_DISABLED, STATE_UNAVAILABLE)
KILL_SWITCH_ENGAGED = "kill_switch_engaged"  # refusal to enable go-live while killed (409)
