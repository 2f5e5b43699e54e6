"""EscaShop settings: one module, every difference between machines comes from the environment.

With nothing set it runs on SQLite and the in-memory channel layer. See README
"Configuration" for the variables; each helper below fails loudly on a bad value.
"""

from __future__ import annotations

import math
import os
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured
from environs import Env, ValidationError, validate

from escashop.redis_config import redis_layout

BASE_DIR = Path(__file__).resolve().parent.parent

# A variable of ours set to nothing ("REDIS_URL=", "DJANGO_DEBUG=") means its default, as if
# unset: shells, compose files and service managers often blank a variable instead of removing
# it. A value that is there and wrong still fails loudly.
for _name, _value in list(os.environ.items()):
    if _name.startswith(("DJANGO_", "ESCASHOP_", "DATABASE_URL", "REDIS_")) and not _value.strip():
        del os.environ[_name]

env = Env()

#: Counts that cannot be negative (seconds, sizes, lifetimes); every number setting has a range.
AT_LEAST_0 = validate.Range(min=0)
AT_LEAST_1 = validate.Range(min=1)


def _finite(value: float) -> None:
    """NaN passes every range check (each comparison with it is false): refuse it, and inf."""
    if not math.isfinite(value):
        raise ValidationError("Must be a finite number.")


DEBUG = env.bool("DJANGO_DEBUG", False)
HTTPS = env.bool("DJANGO_HTTPS", False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            '(e.g. python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )
    SECRET_KEY = "django-insecure-quickstart-only-never-use-in-production"


def _names(variable: str, default: list[str]) -> list[str]:
    """A comma-separated list, spaces around the names ignored ("a.com, b.com")."""
    return [name.strip() for name in env.list(variable, default) if name.strip()]


ALLOWED_HOSTS = _names("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _names("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    # Refresh tokens a user logged out with (POST /api/auth/logout/) are refused.
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "transactions",
    "payments",
    "realtime",
]

MIDDLEWARE = [
    # /healthz and /metrics answer a direct request to a daphne port (escashop/ops.py).
    "escashop.ops.OpsEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's CommonMiddleware, redirecting a URL without its final slash with a 308.
    "escashop.append_slash.AppendSlashMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # API answers hold customers' and payments' data: no browser or proxy keeps them.
    "escashop.api_cache.ApiNoStoreMiddleware",
    # A lost database connection on a page outside the API: 503 and the pool swept.
    "escashop.db_health.DatabaseLostMiddleware",
]

ROOT_URLCONF = "escashop.urls"
ASGI_APPLICATION = "escashop.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The shop page's templates live with the project package, which is not an app.
        "DIRS": [BASE_DIR / "escashop" / "templates"],
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

# --- Database -----------------------------------------------------------------
# DATABASE_URL selects PostgreSQL (postgres://user@host:5432/name); SQLite otherwise.
DATABASES = {
    "default": env.dj_db_url(
        "DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env.int("DJANGO_CONN_MAX_AGE", 0, validate=AT_LEAST_0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes SQLite's write lock when a transaction starts, which is what
    # select_for_update() gives us on PostgreSQL: concurrent settlements serialize.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
if env.bool("DJANGO_DB_POOL", False):
    # psycopg's pool, one per process (PostgreSQL only; needs psycopg-pool). Request threads
    # are reused (escashop/handlers.py), so CONN_MAX_AGE alone would keep a connection per
    # request thread, as many as a burst made; the pool caps them per process.
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DJANGO_DB_POOL=1 needs a PostgreSQL DATABASE_URL.")
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    _pool = {
        "min_size": env.int("DJANGO_DB_POOL_MIN", 2, validate=AT_LEAST_0),
        "max_size": env.int("DJANGO_DB_POOL_MAX", 20, validate=AT_LEAST_1),
        "timeout": env.float(
            "DJANGO_DB_POOL_TIMEOUT",
            10.0,
            validate=[_finite, validate.Range(min=0, min_inclusive=False)],
        ),
    }
    # psycopg_pool retries a failed connection with a doubling delay for up to this long (5
    # minutes by default): after a 20 s outage its next attempt was 16 s away, and requests
    # waited for it. Given up as a request would give up waiting (the pool's timeout), the
    # next request starts a fresh attempt, and an attempt a waiting request started keeps
    # trying for as long as that request waits (escashop/db_health.py).
    _pool["reconnect_timeout"] = _pool["timeout"]
    if _pool["max_size"] < _pool["min_size"]:
        # psycopg would refuse it on the first query of every request, with /healthz (which
        # opens a connection of its own) still answering 200.
        raise ImproperlyConfigured(
            f"DJANGO_DB_POOL_MAX ({_pool['max_size']}) must be at least "
            f"DJANGO_DB_POOL_MIN ({_pool['min_size']})."
        )
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = _pool
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A PostgreSQL that accepts connections and never answers must not hold a request (and
    # its request slot) for ever: libpq gives up connecting after this many seconds.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout",
        env.int("DJANGO_DB_CONNECT_TIMEOUT", 10, validate=validate.Range(min=1, max=3600)),
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DJANGO_DB_PREPARED", True
):
    # Server-side parameter binding, and each query prepared on a connection after psycopg's
    # threshold of uses: PostgreSQL then plans the hot queries once per connection instead of
    # on every request (a third less of its CPU per settlement, docs/performance.md). Django
    # leaves both off for poolers that cannot keep prepared statements (PgBouncer in
    # transaction mode): DJANGO_DB_PREPARED=0 behind one.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer ------------------------------------------------------------
# REDIS_URL selects channels-redis; ESCASHOP_CHANNEL_LAYER picks its flavour
# ("pubsub" = RedisPubSubChannelLayer, "core" = RedisChannelLayer). Delivery is
# guaranteed by the event log (realtime/), so the layer is chosen for speed.
# Where Redis is (escashop/redis_config.py): REDIS_URL with one URL or several (sharded), or
# ESCASHOP_REDIS_SENTINELS + ESCASHOP_REDIS_SENTINEL_MASTER for a Sentinel-managed master.
REDIS_URL = env.str("REDIS_URL", "")
REDIS_HOSTS, REDIS_CACHE = redis_layout(
    url=REDIS_URL,
    sentinels=env.list("ESCASHOP_REDIS_SENTINELS", []),
    master=env.str("ESCASHOP_REDIS_SENTINEL_MASTER", ""),
)
CHANNEL_LAYER_FLAVOUR = env.str(
    "ESCASHOP_CHANNEL_LAYER", "pubsub", validate=validate.OneOf(["pubsub", "core"])
)
# One per deployment on a Redis server (Pub/Sub ignores REDIS_URL's database number); the
# cache's keys take it too unless ESCASHOP_CACHE_PREFIX says otherwise.
CHANNEL_PREFIX = env.str("ESCASHOP_CHANNEL_PREFIX", "escashop")
if REDIS_HOSTS:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": (
                "channels_redis.pubsub.RedisPubSubChannelLayer"
                if CHANNEL_LAYER_FLAVOUR == "pubsub"
                else "channels_redis.core.RedisChannelLayer"
            ),
            "CONFIG": {
                "hosts": REDIS_HOSTS,
                "prefix": CHANNEL_PREFIX,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Auth ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", "Asia/Manila")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"DJANGO_TIME_ZONE: {TIME_ZONE!r} is not a time zone (e.g. Asia/Manila, UTC)."
    ) from None
USE_I18N = True
USE_TZ = True

# --- Static files (served by WhiteNoise from daphne, debug or not) -------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The shop page's CSS and ES modules (escashop/ is not an app, so list its folder here).
STATICFILES_DIRS = [BASE_DIR / "escashop" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps too, so a run without collectstatic still has its CSS/JS.
WHITENOISE_USE_FINDERS = True

# --- HTTPS hardening (behind a TLS-terminating proxy) ---------------------------
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", 31_536_000, validate=AT_LEAST_0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Logging: one line per record to stderr; never log tokens -----------------
_log_level = env.str("DJANGO_LOG_LEVEL", "INFO")
LOG_LEVEL = _log_level.strip().upper()  # any case: "debug" as well as "DEBUG"
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        f"DJANGO_LOG_LEVEL: {_log_level!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Serving ---------------------------------------------------------------------
# Requests running their (sync) Django code at once in one daphne process; more wait on the
# event loop for a slot (escashop/handlers.py RequestSlots). 0: no limit.
ESCASHOP_REQUEST_CONCURRENCY = env.int(
    "ESCASHOP_REQUEST_CONCURRENCY", 2, validate=validate.Range(min=0, max=1000)
)

# --- Domain settings ------------------------------------------------------------
# How long payment events are kept for replay (`prune_payment_events` deletes older rows).
ESCASHOP_EVENT_RETENTION_DAYS = env.int(
    "ESCASHOP_EVENT_RETENTION_DAYS", 7, validate=validate.Range(min=1, max=36500)
)

# --- Cache ------------------------------------------------------------------------
# Login throttling counts attempts here, so with several daphne processes the counts must be
# shared: Django's own RedisCache when REDIS_URL is set, a per-process LocMem cache otherwise.
if REDIS_CACHE:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # The channel prefix by default: two deployments on one Redis server, told apart by
            # theirs, must not share login-throttle counts (a staging's failed logins locking
            # the same username out of production).
            "KEY_PREFIX": env.str("ESCASHOP_CACHE_PREFIX", CHANNEL_PREFIX),
            **REDIS_CACHE,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- REST API -------------------------------------------------------------------


def _throttle_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as "10/min" from the environment; refuses anything else."""
    # marshmallow 4 validators must raise: a lambda returning False would accept anything.
    return env.str(name, default, validate=validate.Regexp(r"^\d+/(s|sec|m|min|h|hour|d|day)$"))


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Access tokens only: a refresh token sent as a bearer token is refused (401).
        "escashop.api_authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "escashop.api_permissions.HasAnyRole",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["escashop.api_parsers.DecimalJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "escashop.api_errors.AutoSchema",
    # django-filter's, skipped when a request has no query parameters (escashop/api_filters.py).
    "DEFAULT_FILTER_BACKENDS": ["escashop.api_filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "escashop.api_pagination.CappedPageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "escashop.api_errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    # \u-escapes for anything past ASCII: an error that repeats the client's input (an
    # unknown choice) cannot then fail to encode a lone surrogate and turn into a 500.
    "UNICODE_JSON": False,
    # Login throttling (escashop.auth_api): failed attempts per username, all attempts per
    # client address. Limits a busy shop never reaches, far below what brute force needs.
    "DEFAULT_THROTTLE_RATES": {
        "login_username": _throttle_rate("ESCASHOP_LOGIN_FAILURES_PER_USERNAME", "10/min"),
        "login_address": _throttle_rate("ESCASHOP_LOGIN_ATTEMPTS_PER_ADDRESS", "100/min"),
    },
    # How many proxies sit in front of daphne: the client address for throttling is taken
    # from X-Forwarded-For only that far back, so a client cannot forge it (0 = REMOTE_ADDR).
    "NUM_PROXIES": env.int("ESCASHOP_NUM_PROXIES", 0, validate=AT_LEAST_0),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        minutes=env.int("ESCASHOP_ACCESS_TOKEN_MINUTES", 15, validate=AT_LEAST_1)
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        hours=env.int("ESCASHOP_REFRESH_TOKEN_HOURS", 12, validate=AT_LEAST_1)
    ),
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # An inactive user's tokens stop working at once (401), not when they expire.
    "CHECK_USER_IS_ACTIVE": True,
    # So do the tokens the login made before a password change: escashop.api_authentication
    # (password_changed; not simplejwt's CHECK_REVOKE_TOKEN, which would also refuse every
    # token made without the login, by whoever holds the signing key, as simplejwt's
    # default claims).
}

SPECTACULAR_SETTINGS = {
    "TITLE": "EscaShop payments API",
    "DESCRIPTION": (
        "Transactions, payment settlements and payment events of an optical shop.\n\n"
        "Authenticate with `POST /api/auth/token/` and send the access token as "
        "`Authorization: Bearer <access>`. Money is a decimal string with two places in "
        'responses (`"1500.00"`; the frames of `/api/payment-events/` carry JSON numbers with '
        "two places, as the websocket does); requests may send a string or a JSON number "
        "(read exactly, never as a float). Errors use DRF's shapes: "
        '`{"field": ["message"]}` for 400, `{"detail": "message"}` for 401, 403, 404, 409 '
        "and 429. What a user sees follows one policy: admins see every transaction, sales "
        "agents the ones they created, cashiers the ones they handle plus the unassigned "
        "queue; anything else is 404."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs page are public: a client's stale token must not hide them (401).
    "SERVE_AUTHENTICATION": [],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "escashop.api_schema.response_fields_required",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/",
    # Object ids in paths (escashop/api_ids.py): whole numbers, not strings with a pattern.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1}},
    "ENUM_NAME_OVERRIDES": {
        "PaymentModeEnum": "transactions.choices.PaymentMode",
        "PaymentStatusEnum": "transactions.choices.PaymentStatus",
        "RoleEnum": "transactions.choices.Role",
        "FrameTypeEnum": "realtime.choices.FrameType",
    },
    # Swagger UI's own files ship in drf-spectacular-sidecar: /api/docs/ needs no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Polling clients of /api/payment-events/ get an event only once it is this old. Not needed
# for correctness (event ids commit in id order, realtime/events.py), so 0 by default.
ESCASHOP_EVENT_POLL_SETTLE_SECONDS = env.float(
    "ESCASHOP_EVENT_POLL_SETTLE_SECONDS", 0.0, validate=[_finite, validate.Range(min=0, max=60)]
)
