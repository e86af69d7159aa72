"""Production configuration, checked in a fresh process with production-like environment variables."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_filesystem_broker__control_folder_inside_the_broker_dir(settings):
    """kombu's default control folder is ./control: a worker left it in the checkout."""
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("the filesystem broker is configured only without CELERY_BROKER_URL")
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    broker_dir = Path(options["data_folder_in"]).parent
    assert Path(options["control_folder"]).parent == broker_dir


@pytest.mark.parametrize("pooling", ["true", "false"])
def test_transaction_pooling__no_server_side_cursors_nor_prepared_statements(pooling):
    shown = (
        "from django.db import connection as c; d = c.settings_dict; "
        "print(bool(d.get('DISABLE_SERVER_SIDE_CURSORS')), d['OPTIONS'].get('prepare_threshold', 'default'))"
    )
    result = manage(
        "shell", "-c", shown, SECRET_KEY=secrets.token_urlsafe(50), DATABASE_TRANSACTION_POOLING=pooling,
        DATABASE_URL="postgres://gov@db.example.com:6432/governance",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shown_last = result.stdout.strip().splitlines()[-1].split()
    assert shown_last == (["True", "None"] if pooling == "true" else ["False", "default"])
