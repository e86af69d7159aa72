"""Faults a test can cause in its own process: the database unreachable, a row locked elsewhere."""

import contextlib

from django.db import connection


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
