"""Django's PostgreSQL backend, each wait on the server bounded by DATABASE_CLIENT_DEADLINE_MS."""

import contextlib
import logging
import time

from django.conf import settings
from django.db.backends.postgresql import base

from . import watchdog

logger = logging.getLogger(__name__)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(self._execute_within_deadline)
        self.answered_at: float | None = None  # time.monotonic() of the server's last answer

    def close_if_health_check_failed(self):
        """Django's health check before a kept connection is reused, skipped when the server
        answered on it within DATABASE_HEALTH_CHECK_IDLE_MS (the check is a round trip of its own)."""
        idle_ms = settings.DATABASE_HEALTH_CHECK_IDLE_MS
        if self.answered_at is not None and (time.monotonic() - self.answered_at) * 1000 < idle_ms:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def connect(self):
        self.answered_at = None
        super().connect()

    @contextlib.contextmanager
    def within_deadline(self, what: str):
        """Past the deadline, the connection's socket is shut down: the call raises."""
        deadline_ms, fd = settings.DATABASE_CLIENT_DEADLINE_MS, self._socket()
        if not deadline_ms or fd is None:
            yield  # nothing to wait on: the call fails (or not) its own way
            self.answered_at = time.monotonic()
            return
        token = watchdog.arm(fd, deadline_ms / 1000)
        try:
            yield
            self.answered_at = time.monotonic()
        finally:
            if not watchdog.disarm(token):
                logger.warning("No answer from the database to %s within %s ms: socket shut down", what, deadline_ms)

    def _socket(self) -> int | None:
        """The open connection's socket, None when there is none (closed, or lost)."""
        if self.connection is None or self.connection.closed:
            return None
        try:
            return self.connection.pgconn.socket
        except base.Database.Error:
            return None

    def _execute_within_deadline(self, execute, sql, params, many, context):
        with self.within_deadline("a statement"):
            return execute(sql, params, many, context)

    def is_usable(self):
        with self.within_deadline("the health check"):
            return super().is_usable()

    def _commit(self):
        with self.within_deadline("a commit"):
            return super()._commit()

    def _rollback(self):
        with self.within_deadline("a rollback"):
            return super()._rollback()
