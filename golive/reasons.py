"""Reason codes of the Go-Live lever: the same strings in the API, the ledgers and the docs."""

KILL_SWITCH = "kill_switch"
GO_LIVE_DISABLED = "go_live_disabled"
STATE_UNAVAILABLE = "state_unavailable"
KILL_SWITCH_ENGAGED = "kill_switch_engaged"  # refusal to enable go-live while killed (409)
