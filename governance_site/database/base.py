"""Django's PostgreSQL backend, each wait on the server bounded by DATABASE_CLIENT_DEADLINE_MS and,
within a web request, all of them together by the request's budget."""

import contextlib
import logging
import time

from django.conf import settings
from django.db.backends.postgresql import base

from . import current_budget, watchdog

logger = logging.getLogger(__name__)
MIN_CONNECT_TIMEOUT = 2  # seconds: libpq (and psycopg) wait at least this long for a connection


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
        """Past the deadline (the client deadline, or what is left of the request's budget), the
        connection's socket is shut down: the call raises, and the request tries the database no more."""
        budget = current_budget()
        seconds = settings.DATABASE_CLIENT_DEADLINE_MS / 1000
        if budget is not None:
            seconds = min(seconds or float("inf"), budget.remaining(what))
        fd = self._socket()
        if not seconds or fd is None:
            yield  # nothing to wait on: the call fails (or not) its own way
            self.answered_at = time.monotonic()
            return
        token = watchdog.arm(fd, seconds)
        try:
            yield
            self.answered_at = time.monotonic()
        finally:
            if not watchdog.disarm(token):
                logger.warning("No answer from the database to %s within %.1f s: socket shut down", what, seconds)
                if budget is not None:
                    budget.unavailable = True

    def get_new_connection(self, conn_params):
        """A connection attempt waits at most what is left of the request's budget (libpq's
        minimum aside); one that fails marks the database unavailable for the rest of the request."""
        budget = current_budget()
        if budget is None:
            return super().get_new_connection(conn_params)
        left = int(budget.remaining("a connection"))
        timeout = int(conn_params.get("connect_timeout") or 0)
        conn_params = {**conn_params, "connect_timeout": max(MIN_CONNECT_TIMEOUT, min(timeout or left, left))}
        try:
            return super().get_new_connection(conn_params)
        except base.Database.OperationalError:
            budget.unavailable = True
            raise

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
