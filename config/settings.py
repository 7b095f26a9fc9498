"""Parley settings: everything from the environment, with embedded defaults.

With no environment at all Parley runs on one machine: SQLite in WAL mode, the in-memory
channel layer, Celery tasks run in-process, database search. `DJANGO_PRODUCTION=1` makes the
secret key and the service URLs mandatory and refuses to start when one is missing.
"""

import os
import socket
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

PRODUCTION = env.bool("DJANGO_PRODUCTION", default=False)
PRODUCTION_REQUIRED = ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL")


def _require_production_settings() -> None:
    """Stop start-up, naming the variable, when production lacks a mandatory setting."""
    for name in PRODUCTION_REQUIRED:
        if name == "ELASTICSEARCH_URL" and env.str("PARLEY_ARCHIVE_SEARCH_BACKEND", default="") == (
            "tantivy"
        ):
            continue  # a single server may search its own embedded index instead
        if not env.str(name, default=""):
            raise ImproperlyConfigured(
                f"DJANGO_PRODUCTION=1 requires the environment variable {name}; set it and "
                "start again."
            )
    if not env.str("DATABASE_URL").startswith(("postgres://", "postgresql://", "pgsql://")):
        raise ImproperlyConfigured(
            "DJANGO_PRODUCTION=1 requires DATABASE_URL to point at PostgreSQL "
            "(postgres://user:password@host:5432/name)."
        )


if PRODUCTION:
    _require_production_settings()

SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY", default="parley-embedded-insecure-key-change-me-for-any-real-deployment"
)
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "directory",
    "archiving",
    "chat",
    "presence",
    "federation",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "web.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite in WAL mode unless DATABASE_URL says otherwise. IMMEDIATE transactions take
# the write lock at BEGIN, so two writers never deadlock upgrading a read lock.
DATA_DIR = Path(env.str("PARLEY_DATA_DIR", default=str(BASE_DIR / "var")))
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
        "DATABASE_POOL", default=True
    ):
        # psycopg's pool: Channels and ASGI views close connections after every call, and a
        # new PostgreSQL connection (a forked backend) costs more than a message post.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN", default=2),
            "max_size": env.int("DATABASE_POOL_MAX", default=20),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "parley.sqlite3",
            "OPTIONS": {
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
                ),
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "directory.Person"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("PARLEY_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("PARLEY_MEDIA_ROOT", default=str(DATA_DIR / "media")))
WHITENOISE_USE_FINDERS = True

# Realtime: the in-memory channel layer on one process; Redis pub/sub across processes.
# Parley's fan-out publishes one event per conversation message and each process writes the
# same serialised frame to its local sockets, so the layer carries little traffic either way.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "max_connections": 1000}],
                # Redis pub/sub ignores database numbers: deployments (and test runs) sharing
                # one Redis keep apart by prefix.
                "prefix": env.str("PARLEY_CHANNEL_PREFIX", default="parley"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 10_000, "expiry": 60},
        }
    }

# Celery: in-process (eager) unless a broker is configured.
# With no broker configured the broker is in-process memory, so nothing can reach a broker
# that happens to listen on localhost.
IN_PROCESS_BROKER = "memory://localhost/"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL) or IN_PROCESS_BROKER
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "PARLEY_TASKS_EAGER", default=CELERY_BROKER_URL == IN_PROCESS_BROKER
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# With acks_late, a task whose worker died stays "unacked" in Redis and is delivered again once
# the visibility timeout has passed; kombu looks for such tasks every interval x throttle s.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("PARLEY_TASK_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_interval": env.int("PARLEY_TASK_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("PARLEY_TASK_RESTORE_THROTTLE", default=10),
}
CELERY_BEAT_SCHEDULE = {
    "search-index-sweep": {"task": "chat.tasks.search_index_pending", "schedule": 60.0},
    "presence-sweep": {"task": "presence.tasks.presence_sweep", "schedule": 30.0},
    # Daily, at a quiet hour; each batch holds the retention lock only briefly.
    "archive-retention-run": {
        "task": "archiving.tasks.retention_run",
        "schedule": crontab(hour=2, minute=30),
    },
    "export-resume-stale": {"task": "archiving.tasks.export_resume_stale", "schedule": 60.0},
    "archive-search-index-sweep": {
        "task": "archiving.tasks.search_index_pending",
        "schedule": 60.0,
    },
    "archive-search-reconcile": {"task": "archiving.tasks.search_reconcile", "schedule": 300.0},
}

# Parley limits and tuning.
PARLEY_MESSAGE_MAX_BYTES = env.int("PARLEY_MESSAGE_MAX_BYTES", default=16 * 1024)
PARLEY_WS_MAX_FRAME_BYTES = env.int("PARLEY_WS_MAX_FRAME_BYTES", default=64 * 1024)
PARLEY_WS_RATE_PER_SECOND = env.float("PARLEY_WS_RATE_PER_SECOND", default=30.0)
PARLEY_WS_RATE_BURST = env.int("PARLEY_WS_RATE_BURST", default=60)
PARLEY_FANOUT_SHARDS = env.int("PARLEY_FANOUT_SHARDS", default=64)
PARLEY_SYNC_BATCH = env.int("PARLEY_SYNC_BATCH", default=200)
PARLEY_FILE_MAX_BYTES = env.int("PARLEY_FILE_MAX_BYTES", default=10 * 1024 * 1024)
# People moved into a denied department or group leave the walled rooms (reads keep them out at
# once; this ends the memberships and detaches live sockets).
CELERY_BEAT_SCHEDULE["category-walls-sweep"] = {
    "task": "chat.tasks.category_walls_sweep",
    "schedule": 300.0,
}
PARLEY_SEARCH_BACKEND = env.str("PARLEY_SEARCH_BACKEND", default="database")
# Compliance archive search: Elasticsearch when ELASTICSEARCH_URL is set, else the database
# (SQLite FTS5 or PostgreSQL full-text) or the embedded tantivy index (a folder on this host,
# written only by the indexing task). All answer the same query language identically.
ELASTICSEARCH_URL = env.str("ELASTICSEARCH_URL", default="")
PARLEY_ARCHIVE_SEARCH_BACKEND = env.str(
    "PARLEY_ARCHIVE_SEARCH_BACKEND", default="elasticsearch" if ELASTICSEARCH_URL else "database"
)
if PARLEY_ARCHIVE_SEARCH_BACKEND not in ("database", "elasticsearch", "tantivy"):
    raise ImproperlyConfigured(
        "PARLEY_ARCHIVE_SEARCH_BACKEND must be 'database', 'tantivy' or 'elasticsearch', not "
        f"{PARLEY_ARCHIVE_SEARCH_BACKEND!r}."
    )
if PARLEY_ARCHIVE_SEARCH_BACKEND == "elasticsearch" and not ELASTICSEARCH_URL:
    raise ImproperlyConfigured(
        "PARLEY_ARCHIVE_SEARCH_BACKEND=elasticsearch needs ELASTICSEARCH_URL "
        "(https://user:password@search.internal:9200); set it, or use 'database'."
    )
# Search totals are exact up to this many matches, then "at least" it (unless asked).
PARLEY_ARCHIVE_SEARCH_EXACT_TOTAL_UP_TO = env.int(
    "PARLEY_ARCHIVE_SEARCH_EXACT_TOTAL_UP_TO", default=10_000
)
PARLEY_SEARCH_INDEX_DIR = Path(
    env.str("PARLEY_SEARCH_INDEX_DIR", default=str(DATA_DIR / "search-index"))
)
PARLEY_ARCHIVE_SEARCH_INDEX = env.str("PARLEY_ARCHIVE_SEARCH_INDEX", default="parley-archive")
# Presence: endpoints are refreshed every heartbeat by their server process and expire when
# it stops (a process that died); idle endpoints turn inactive, then away.
PARLEY_SERVER_NAME = env.str("PARLEY_SERVER_NAME", default=f"{socket.gethostname()}:{os.getpid()}")
PARLEY_ENDPOINT_HEARTBEAT_SECONDS = env.float("PARLEY_ENDPOINT_HEARTBEAT_SECONDS", default=20.0)
PARLEY_ENDPOINT_EXPIRY_SECONDS = env.float("PARLEY_ENDPOINT_EXPIRY_SECONDS", default=60.0)
PARLEY_IDLE_INACTIVE_SECONDS = env.float("PARLEY_IDLE_INACTIVE_SECONDS", default=300.0)
PARLEY_IDLE_AWAY_SECONDS = env.float("PARLEY_IDLE_AWAY_SECONDS", default=300.0)
# The web client reports `idle` after this long without keyboard or pointer input.
PARLEY_WEB_IDLE_SECONDS = env.float("PARLEY_WEB_IDLE_SECONDS", default=300.0)
# Calendar presence: Exchange free/busy read through EWS by a service account allowed to read
# free/busy (presence/integrations/exchange.py). Off while the EWS URL is empty.
# Federation (XMPP): `manage.py xmpp_gateway` joins the organisation's XMPP server as an
# XEP-0114 component; off unless host, component domain and secret are set.
PARLEY_XMPP_HOST = env.str("PARLEY_XMPP_HOST", default="")
PARLEY_XMPP_PORT = env.int("PARLEY_XMPP_PORT", default=5347)
PARLEY_XMPP_COMPONENT = env.str("PARLEY_XMPP_COMPONENT", default="")
PARLEY_XMPP_SECRET = env.str("PARLEY_XMPP_SECRET", default="")
# Open federation: any domain not blocked may talk to Parley (default: allowed partners only).
PARLEY_XMPP_OPEN_FEDERATION = env.bool("PARLEY_XMPP_OPEN_FEDERATION", default=False)
# How often the gateway looks for unsent messages and contact requests (it is also woken at
# once through the channel layer), and how long a message may wait before it is reported
# undeliverable.
PARLEY_XMPP_POLL_SECONDS = env.float("PARLEY_XMPP_POLL_SECONDS", default=5.0)
PARLEY_XMPP_UNDELIVERABLE_SECONDS = env.float("PARLEY_XMPP_UNDELIVERABLE_SECONDS", default=86400.0)
PARLEY_XMPP_RECONNECT_MAX_SECONDS = env.float("PARLEY_XMPP_RECONNECT_MAX_SECONDS", default=30.0)

PARLEY_EXCHANGE_EWS_URL = env.str("PARLEY_EXCHANGE_EWS_URL", default="")
PARLEY_EXCHANGE_USERNAME = env.str("PARLEY_EXCHANGE_USERNAME", default="")
PARLEY_EXCHANGE_PASSWORD = env.str("PARLEY_EXCHANGE_PASSWORD", default="")
PARLEY_CALENDAR_POLL_SECONDS = env.float("PARLEY_CALENDAR_POLL_SECONDS", default=300.0)
if PARLEY_EXCHANGE_EWS_URL:
    for _name in ("PARLEY_EXCHANGE_USERNAME", "PARLEY_EXCHANGE_PASSWORD"):
        if not env.str(_name, default=""):
            raise ImproperlyConfigured(
                f"PARLEY_EXCHANGE_EWS_URL is set, so calendar presence needs {_name} (a service "
                "account allowed to read free/busy); set it, or unset PARLEY_EXCHANGE_EWS_URL."
            )
    CELERY_BEAT_SCHEDULE["calendar-presence-refresh"] = {
        "task": "presence.tasks.calendar_presence_refresh",
        "schedule": PARLEY_CALENDAR_POLL_SECONDS,
    }

# Compliance exports (archiving/exports/): files under PARLEY_EXPORT_ROOT; a running job whose
# heartbeat is older than PARLEY_EXPORT_STALE_SECONDS is taken over (its worker died).
PARLEY_EXPORT_ROOT = Path(env.str("PARLEY_EXPORT_ROOT", default=str(DATA_DIR / "exports")))
PARLEY_EXPORT_BATCH_SIZE = env.int("PARLEY_EXPORT_BATCH_SIZE", default=2000)
PARLEY_EXPORT_STALE_SECONDS = env.float("PARLEY_EXPORT_STALE_SECONDS", default=120.0)
# Progress (and the files done) is committed every N files or S seconds, whichever comes first.
PARLEY_EXPORT_CHECKPOINT_FILES = env.int("PARLEY_EXPORT_CHECKPOINT_FILES", default=200)
PARLEY_EXPORT_CHECKPOINT_SECONDS = env.float("PARLEY_EXPORT_CHECKPOINT_SECONDS", default=1.0)
# Export to an Exchange Server mailbox through EWS (on-premises only). Off while the URL is empty.
PARLEY_EXPORT_EWS_URL = env.str("PARLEY_EXPORT_EWS_URL", default="")
PARLEY_EXPORT_EWS_USERNAME = env.str("PARLEY_EXPORT_EWS_USERNAME", default="")
PARLEY_EXPORT_EWS_PASSWORD = env.str("PARLEY_EXPORT_EWS_PASSWORD", default="")
PARLEY_EXPORT_MAILBOX = env.str("PARLEY_EXPORT_MAILBOX", default="")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "directory.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": "Instant messaging, presence, persistent chat and compliance archive.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("PARLEY_LOG_LEVEL", default="WARNING")},
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
