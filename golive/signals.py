"""Signals the Go-Live lever sends inside the transaction of a switch change, so that levers that
depend on it (the Risk Guard cancels the open reservations a kill covers) act in the same commit
without Go-Live importing them.

kill_engaged(scope, target, switch, reason, actor): a kill switch of `scope` was engaged.
engine_disconnected(engine, heartbeat, reason, actor): an engine's heartbeat lapsed.
"""

from django.dispatch import Signal

kill_engaged = Signal()
engine_disconnected = Signal()
