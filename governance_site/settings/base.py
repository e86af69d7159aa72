"""Settings for every environment.

Production differs from development only by environment variables (documented in
`.env.example`); `governance_site.settings.test` only adds test-speed tweaks.
"""

import datetime as dt
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY or (not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"))):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))'); `make run` writes one to .env."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "review.apps.GovernanceAdminConfig",  # django.contrib.admin with the control-plane review as its index
    "django.contrib.auth",
    "axes",  # admin login throttling (see LOGIN_* below)
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_celery_beat",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "governance_site.audit",
    "governance_site.alerts",
    "golive",
    "risk",
    "heimdall",
    "regression",
    "review",
    "approvals",
]

MIDDLEWARE = [
    "governance_site.middleware.DatabaseBudgetMiddleware",  # first: it bounds every other's waits
    "django.middleware.security.SecurityMiddleware",
    "governance_site.middleware.HostileInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "golive.middleware.ExecutionClassMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "governance_site.urls"
WSGI_APPLICATION = "governance_site.wsgi.application"
ASGI_APPLICATION = "governance_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "governance_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: a SQLite file in the project folder unless DATABASE_URL says otherwise
# (postgres://user@host:5432/name uses psycopg 3).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: wait for the write lock instead of failing, and take it
    # at the start of each transaction so read-then-write services serialise.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
# Bounded waits, so that the gate answers `state_unavailable` instead of hanging (PostgreSQL):
# seconds to open a connection, and milliseconds one statement may run / wait for a lock. A lock
# held elsewhere (one stuck tripwire, a long admin transaction) fails that one request or that one
# tripwire's evaluation after DATABASE_LOCK_TIMEOUT_MS; the rest go on. A server that does not run
# at all (SIGSTOP, a frozen host) enforces none of these: past DATABASE_CLIENT_DEADLINE_MS the
# client itself shuts the connection down (governance_site.database). Keep lock < statement <
# client deadline, so that a slow but running server answers with its own error first. A web
# request's waits together (connecting included) get DATABASE_REQUEST_BUDGET_MS: once the database
# is found unavailable, or the budget is spent, the request tries it no more and answers
# `state_unavailable` / 503 at once: a request waits on the database about this long at most (a
# connection attempt takes at least 2 s, libpq's minimum). 0 turns a limit off.
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
DATABASE_STATEMENT_TIMEOUT_MS = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=7000)
DATABASE_LOCK_TIMEOUT_MS = env.int("DATABASE_LOCK_TIMEOUT_MS", default=5000)
DATABASE_CLIENT_DEADLINE_MS = env.int("DATABASE_CLIENT_DEADLINE_MS", default=8000)
DATABASE_REQUEST_BUDGET_MS = env.int("DATABASE_REQUEST_BUDGET_MS", default=8000)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "governance_site.database"  # Django's, with the client deadline
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT)
    _options["options"] = " ".join(
        [
            _options.get("options", ""),
            f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT_MS}",
            f"-c lock_timeout={DATABASE_LOCK_TIMEOUT_MS}",
        ]
    ).strip()
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # each service owns its transaction
# Keep connections between requests (seconds; 0 closes after each), checked before reuse when
# idle for DATABASE_HEALTH_CHECK_IDLE_MS (0: before every request, Django's own way): an engine
# calling many times a second does not pay a `SELECT 1` round trip per request (governance_site.
# database).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_HEALTH_CHECK_IDLE_MS = env.int("DATABASE_HEALTH_CHECK_IDLE_MS", default=1000)
if env.bool("DATABASE_TRANSACTION_POOLING", default=False):
    # Behind PgBouncer in transaction mode consecutive transactions may run on different server
    # connections: no cursor held across them (QuerySet.iterator() outside a transaction), and
    # no statement prepared on one server connection and executed on another.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
# The business day ("today" in every ledger and scorecard) and the time zone the admin shows.
GOVERNANCE_TIME_ZONE = env.str("GOVERNANCE_TIME_ZONE", default="UTC")
TIME_ZONE = GOVERNANCE_TIME_ZONE
# The currency amounts are shown in (amounts themselves are plain decimals in the API).
GOVERNANCE_CURRENCY = env.str("GOVERNANCE_CURRENCY", default="USD")
# Switch changes always need a reason; a policy change without one is recorded as unexplained
# (empty reason) unless this makes the reason mandatory for policy changes too (API and admin).
GOVERNANCE_REQUIRE_REASON = env.bool("GOVERNANCE_REQUIRE_REASON", default=False)
# Times in the admin read like 2026-11-26 17:09:04 EST: always with the time zone.
FORMAT_MODULE_PATH = ["governance_site.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# A verified API token is trusted for this many seconds in each process without a look-up
# (0: look it up on every request); revoking a token, deactivating a user or changing their
# groups takes effect at once in the process that does it and within this bound everywhere else.
GOVERNANCE_TOKEN_CACHE_SECONDS = env.float("GOVERNANCE_TOKEN_CACHE_SECONDS", default=5.0)
GOVERNANCE_TOKEN_CACHE_SIZE = env.int("GOVERNANCE_TOKEN_CACHE_SIZE", default=1024)  # keys per process

# Content-Security-Policy (django-csp) on every answer: scripts, styles, images and requests only
# from this site; no plugins, no framing, forms post here. Inline style attributes stay allowed:
# the admin and the tripwire charts (inline SVG) use them. No page needs an inline script (the API
# docs load theirs from a URL), checked in tests/test_csp.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# The largest request body read (bytes; larger: a JSON 413). Sized for the documented batch of
# 10,000 KPI events: about 2.5 MB as engines send them, 6 MB indented with every text field at its
# longest (measured in tests/test_hostile_input.py). Default 8 MiB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=8 * 1024 * 1024)

# Admin login throttling (django-axes: failures kept in the database, so every worker and a
# restart see them; locked-out logins are refused before the password is hashed, so a flood of
# them does not eat the CPU the gate needs). LOGIN_FAILURE_LIMIT failures lock out the client
# address and the username (each on its own) for LOGIN_COOLOFF_MINUTES; a success resets them.
# `manage.py axes_reset` (or the admin's Axes pages) unlocks early.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = env.list("LOGIN_LOCKOUT_PARAMETERS", default=["ip_address", "username"])
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "governance_site.throttles.login_locked_out"

# Shared state of the throttles. Default: each process's memory; production with several workers:
# redis://127.0.0.1:6379/2 (Django's Redis cache), so that the limits hold across workers.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

REST_FRAMEWORK = {
    # Token first so that a request without credentials is answered 401 (with WWW-Authenticate);
    # the address throttle runs before the token look-up, so guessed tokens are throttled too.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance_site.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # 429 with Retry-After past either rate; the gate (go-live check, reserve, Heimdall check)
    # is exempt. Engines post KPI events in batches (kpi/batch) rather than one request each.
    "DEFAULT_THROTTLE_CLASSES": [
        "governance_site.throttles.TokenThrottle",
        "governance_site.throttles.AddressThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_THROTTLE_RATE_PER_TOKEN", default="3000/minute"),
        "address": env.str("API_THROTTLE_RATE_PER_ADDRESS", default="6000/minute"),
    },
    # Proxies in front that append to X-Forwarded-For (0: the client is REMOTE_ADDR; a client's
    # own X-Forwarded-For is then ignored, so it cannot pick its address).
    "NUM_PROXIES": env.int("API_THROTTLE_NUM_PROXIES", default=0),
    "DEFAULT_PERMISSION_CLASSES": ["governance_site.permissions.IsGovernanceReader"],
    # JSON bodies only (a form that leaves out a boolean reads it as false); views that must also
    # take form-encoded bodies say so. Bare NaN/Infinity parse, so validation names the field.
    "DEFAULT_PARSER_CLASSES": ["governance_site.parsers.NonStrictJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "governance_site.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "governance_site.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "governance_site.openapi.AutoSchema",
}

# API tokens (django-rest-knox): only a SHA-512 digest is stored; each token expires after
# API_TOKEN_TTL_DAYS unless issued with another expiry; revoke one by deleting it in the admin.
REST_KNOX = {"TOKEN_TTL": dt.timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=90)), "AUTH_HEADER_PREFIX": "Token"}

# OpenAPI 3 at /api/schema/, Swagger UI at /api/docs/ from local static files (no outside network).
SPECTACULAR_SETTINGS = {
    "TITLE": "Governance control plane API",
    "DESCRIPTION": (
        "Go-Live, Risk Guard, Heimdall Charter and Regression Tripwire. Authenticate with "
        "`Authorization: Token <key>`. Errors are `{detail, field}`; refusals of a decision are "
        "200 answers with `ok: false` and a reason."
    ),
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["governance_site.permissions.IsGovernanceReader"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Each lever's reason codes, from its reasons module, as one named enum clients can generate.
    "ENUM_NAME_OVERRIDES": {
        "RefusalReasonEnum": "golive.reasons.REFUSALS",
        "DenialReasonEnum": "risk.reasons.DENIAL_REASONS",
        "EligibilityReasonEnum": "heimdall.reasons.ELIGIBILITY_REASONS",
        # Two choice sets share the field name "status": each keeps its own name.
        "TripwireStatusEnum": "regression.models.TripwireStatus",
        "ReservationStatusEnum": "risk.models.Status",
        "TripwireActionEnum": "regression.models.CHOSEN_ACTIONS",
        "ReserveAnswerReasonEnum": "risk.reasons.ANSWER_REASONS",
        # Two are called "kind": each named after what it is.
        "ChangeKindEnum": "approvals.models.Kind",
        "PolicyKindEnum": "regression.models.PolicyKind",
    },
    "SERVE_INCLUDE_SCHEMA": False,
}

# Paths the PROD_EXEC gate never blocks, so operators can always recover.
GOVERNANCE_UNGATED_PATH_PREFIXES = env.list(
    "GOVERNANCE_UNGATED_PATH_PREFIXES", default=["/admin/", "/api/governance/", "/static/"]
)

# Celery: a broker that needs no server (kombu's filesystem transport) unless CELERY_BROKER_URL
# names redis://… or amqp://….
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(env.str("CELERY_FILESYSTEM_BROKER_DIR", default=str(BASE_DIR / ".celery-broker")))
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # The broadcast exchanges (kombu's default: ./control, left in the checkout).
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TIMEZONE = GOVERNANCE_TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Alerts (governance_site/alerts): where they go is configured in the admin; how they are sent, here.
# A dedicated Celery queue for deliveries (empty: the default queue), the HTTP timeout of one
# webhook call, attempts before a delivery is `failed`, the exponential backoff (base × 2^(n−1),
# capped), how often an unacknowledged critical alert is sent again, and the admin's public URL
# for links in alerts (empty: no links).
ALERTS_QUEUE = env.str("ALERTS_QUEUE", default="")
ALERTS_HTTP_TIMEOUT_SECONDS = env.float("ALERTS_HTTP_TIMEOUT_SECONDS", default=5.0)
ALERTS_MAX_ATTEMPTS = env.int("ALERTS_MAX_ATTEMPTS", default=8)
ALERTS_RETRY_BASE_SECONDS = env.float("ALERTS_RETRY_BASE_SECONDS", default=30.0)
ALERTS_RETRY_MAX_SECONDS = env.float("ALERTS_RETRY_MAX_SECONDS", default=3600.0)
ALERTS_RESEND_INTERVAL_SECONDS = env.int("ALERTS_RESEND_INTERVAL_SECONDS", default=900)
ALERTS_SITE_URL = env.str("ALERTS_SITE_URL", default="")
# Email alerts go through Django's mail backend: EMAIL_URL=smtp+tls://user:password@host:587
# (django-environ's form). Default: printed to the console.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="governance@localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# Four-eyes approvals of loosening changes (approvals app). Off by default: one operator may do
# everything, as in the spec. On: releasing the kill switch, enabling go-live, raising or removing a
# cap, lowering a Heimdall gate, raising a tripwire's threshold or disabling it, re-enabling a
# throttled policy and resetting a KILL_SWITCH tripwire need a change request approved by this many
# other operators; a request expires after this many hours.
GOVERNANCE_APPROVALS_REQUIRED = env.bool("GOVERNANCE_APPROVALS_REQUIRED", default=False)
GOVERNANCE_APPROVALS_COUNT = env.int("GOVERNANCE_APPROVALS_COUNT", default=1)
GOVERNANCE_APPROVALS_EXPIRE_HOURS = env.float("GOVERNANCE_APPROVALS_EXPIRE_HOURS", default=24.0)

# Production hardening: active whenever DEBUG is off (`check --deploy` passes with real values).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_REDIRECT_EXEMPT = [r"^api/governance/go-live/check$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
