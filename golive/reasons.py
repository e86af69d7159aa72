"""Reason codes of the Go-Live lever: the same strings in the API, the ledgers and the docs."""

KILL_SWITCH = "kill_switch"  # any scope: the refusal names it (`scope`) and who engaged it (`engaged_by`)
HEARTBEAT_MISSED = "heartbeat_missed"  # the engine's heartbeat lapsed: refused until it beats again
GO_LIVE_DISABLED = "go_live_disabled"
STATE_UNAVAILABLE = "state_unavailable"
# Why production may not execute now (a 423, a denial, an ineligible answer), in this order:
# `state_unavailable` whenever the state cannot be read, else the kill switches widest first
# (global, domain, engine, model version), the engine's heartbeat, then go-live itself.
REFUSALS = (KILL_SWITCH, HEARTBEAT_MISSED, GO_LIVE_DISABLED, STATE_UNAVAILABLE)
KILL_SWITCH_ENGAGED = "kill_switch_engaged"  # refusal to enable go-live while killed (409)
