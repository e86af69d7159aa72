"""Faults a test can cause in its own process: the database unreachable, a row locked elsewhere."""

import contextlib
import threading

from django.db import connection, transaction


@contextlib.contextmanager
def unreachable_database():
    """The default connection pointed at a database that cannot be reached, then restored.

    Needs a transaction=True test (the connection is really closed)."""
    settings_dict = connection.settings_dict
    saved = {key: settings_dict[key] for key in ("NAME", "PORT", "HOST")}
    connection.close()
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = "/nonexistent-dir/unreachable.sqlite3"
    else:
        settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        yield
    finally:
        connection.close()
        settings_dict.update(saved)


@contextlib.contextmanager
def held_elsewhere(sql: str, hold_seconds: float = 30):
    """Runs `sql` (which takes a lock) in another thread's transaction and holds it until the block
    ends, for at most `hold_seconds`. Yields a dict whose "held_throughout" says, afterwards, whether
    the lock was still held when the block ended (the block's work did not wait for its release)."""
    taken, release, outcome = threading.Event(), threading.Event(), {}

    def hold():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
                taken.set()
                outcome["held_throughout"] = release.wait(timeout=hold_seconds)
        finally:
            taken.set()
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(timeout=hold_seconds)
    try:
        yield outcome
    finally:
        release.set()
        holder.join()
