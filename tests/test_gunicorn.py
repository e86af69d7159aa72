"""gunicorn as configured for production (gunicorn.conf.py): the requests it refuses by itself,
before the application sees them, are answered in the API's JSON error shape, as documented."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn with the project's configuration file on a free port (the embedded SQLite database:
    these requests never reach the application)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "governance_site.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('gunicorn') / 'db.sqlite3'}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "governance_site.wsgi"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, str, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), json.loads(response.read())
    finally:
        conn.close()


def test_request_line_over_the_limit__json_414(server):
    status, content_type, body = _get(server, "/api/governance/go-live/check?scope=" + "x" * 5000)
    assert (status, content_type) == (414, "application/json")
    assert body["field"] is None and body["reason"] == "uri_too_long"
    assert "Request Line is too large" in body["detail"]


@pytest.mark.parametrize("headers", [{"X-Big": "x" * 9000}, {f"X-Many-{n}": "x" for n in range(150)}])
def test_headers_over_the_limits__json_431(server, headers):
    status, content_type, body = _get(server, "/api/governance/go-live/check", headers)
    assert (status, content_type) == (431, "application/json")
    assert (body["field"], body["reason"]) == (None, "request_header_fields_too_large")
