"""Production configuration, checked in a fresh process with production-like environment variables."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "governance_site.settings.base",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "governance.example.com",
        "SECURE_SSL_REDIRECT": "true",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_check_deploy__production_values__passes_at_warning_level():
    result = manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_startup__debug_off_without_secret_key__refuses():
    result = manage("check", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_startup__debug_off_with_django_insecure_key__refuses():
    result = manage("check", SECRET_KEY="django-insecure-" + "x" * 50)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
