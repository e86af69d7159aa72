"""Test settings: the base settings plus a throwaway key and fast password hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "t" * 40)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from .base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405  (whitenoise warns about a missing root)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's in-memory default, so threads share it and a test can really
    # disconnect from it; one per test run, so that runs side by side do not collide.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}  # noqa: F405
