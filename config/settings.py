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
PRODUCTION_REQUIRED = (
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ELASTICSEARCH_URL",
    "CELERY_BROKER_URL",
)
# Celery brokers production accepts. RabbitMQ only: with Redis as the broker a worker holding
# unacknowledged (acks_late) tasks exits when Redis restarts (kombu's restore_unacked fails),
# and the archive index stalls until someone restarts it. RabbitMQ requeues a lost
# connection's unacknowledged tasks itself, and the worker reconnects.
PRODUCTION_BROKER_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


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
    if not env.str("CELERY_BROKER_URL").startswith(PRODUCTION_BROKER_SCHEMES):
        raise ImproperlyConfigured(
            "DJANGO_PRODUCTION=1 requires CELERY_BROKER_URL to point at RabbitMQ "
            "(amqp://user:password@host:5672/vhost); Redis stays the channel layer (REDIS_URL)."
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
    "supervision",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # NUL and lone surrogates in a URL path or query string: 400 before any view runs.
    "directory.input_screening.InputScreeningMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's LocaleMiddleware choosing the person's language first, then the browser's
    # Accept-Language, then the organisation's default; and the person's time zone.
    "directory.middleware.PersonLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "web.middleware.ContentSecurityPolicyMiddleware",
    "config.api_errors.DatabaseUnavailableMiddleware",
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
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "web.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite in WAL mode unless DATABASE_URL says otherwise. IMMEDIATE transactions take
# the write lock at BEGIN, so two writers never deadlock upgrading a read lock (a deferred
# transaction that reads, then writes, fails at once with "database is locked" whatever the
# busy timeout); the busy timeout makes a writer wait for the lock instead of failing. Every
# SQLite database gets these options, the default file and a DATABASE_URL=sqlite:///... alike.
SQLITE_OPTIONS = {
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
    ),
    "transaction_mode": "IMMEDIATE",
}
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
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "parley.sqlite3"}
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
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

# Languages: English, Korean and Traditional Chinese. LANGUAGE_CODE is the fallback when
# neither the person, the browser nor the organisation's default (directory.OrganisationSettings,
# set in the admin) names one of LANGUAGES. Catalogues are in locale/ (see README, Languages).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어"), ("zh-hant", "繁體中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Stored and exported times are UTC; pages show them in the person's time zone
# (Person.time_zone, else the organisation's default) through directory.middleware.
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

# Celery: in-process (eager) unless a broker is configured. The scaled deployment's broker is
# RabbitMQ (CELERY_BROKER_URL=amqp://...; required in production, see above); outside
# production the broker falls back to REDIS_URL.
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
# The queue workers take tasks from: two deployments (or test runs) sharing one broker vhost
# keep apart by name.
CELERY_TASK_DEFAULT_QUEUE = env.str("PARLEY_TASK_QUEUE", default="celery")
# A broker restart is an outage to wait out, not a reason to exit: workers and beat retry the
# connection for ever (Celery's default gives up after 100 attempts). A task running when the
# connection drops is cancelled rather than finished unacknowledged: the broker delivers it
# again (acks_late), and tasks are idempotent.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Only for Redis as the broker (outside production): with acks_late, a task whose worker died
# stays "unacked" in Redis and is delivered again once the visibility timeout has passed;
# kombu looks for such tasks every interval x throttle s. RabbitMQ ignores these.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("PARLEY_TASK_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_interval": env.int("PARLEY_TASK_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("PARLEY_TASK_RESTORE_THROTTLE", default=10),
}
CELERY_BEAT_SCHEDULE = {
    "presence-sweep": {"task": "presence.tasks.presence_sweep", "schedule": 30.0},
    # Daily, at a quiet hour; each batch holds the retention lock only briefly.
    "archive-retention-run": {
        "task": "archiving.tasks.retention_run",
        "schedule": crontab(hour=2, minute=30),
    },
    "export-resume-stale": {"task": "archiving.tasks.export_resume_stale", "schedule": 60.0},
    # DESIGN.md section 6: a daily signed anchor of every chain head, kept outside the database.
    "archive-anchor-daily": {
        "task": "archiving.tasks.chain_anchor_daily",
        "schedule": crontab(hour=3, minute=15),
    },
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
# API tokens end PARLEY_TOKEN_MAX_AGE_SECONDS after they were issued, or once unused for
# PARLEY_TOKEN_IDLE_SECONDS (an open socket counts as use); 0 turns a limit off.
PARLEY_TOKEN_MAX_AGE_SECONDS = env.int("PARLEY_TOKEN_MAX_AGE_SECONDS", default=30 * 24 * 3600)
PARLEY_TOKEN_IDLE_SECONDS = env.int("PARLEY_TOKEN_IDLE_SECONDS", default=7 * 24 * 3600)
# Every server process re-checks its open sockets' people and tokens this often, and closes
# those of people deactivated (4403) or whose token ended (4401) however that happened.
PARLEY_WS_ACCESS_SWEEP_SECONDS = env.float("PARLEY_WS_ACCESS_SWEEP_SECONDS", default=2.0)
PARLEY_SYNC_BATCH = env.int("PARLEY_SYNC_BATCH", default=200)
# While the database is unreachable, requests answer 503 with Retry-After (and frames an
# `unavailable` error with retry_after_ms) telling clients to retry after this long.
PARLEY_UNAVAILABLE_RETRY_AFTER_SECONDS = env.float(
    "PARLEY_UNAVAILABLE_RETRY_AFTER_SECONDS", default=2.0
)
# Group commit of WebSocket posts (chat/committer.py): writer threads, posts per transaction at
# most, and posts queued before `overloaded` refusals. One writer measured the least CPU per
# post on PostgreSQL too (bench/README.md): a second one splits the batches.
PARLEY_POST_WRITERS = env.int("PARLEY_POST_WRITERS", default=1)
PARLEY_POST_BATCH_MAX = env.int("PARLEY_POST_BATCH_MAX", default=100)
PARLEY_POST_QUEUE_MAX = env.int("PARLEY_POST_QUEUE_MAX", default=1000)
PARLEY_FILE_MAX_BYTES = env.int("PARLEY_FILE_MAX_BYTES", default=10 * 1024 * 1024)
# A person's own photo (PUT /api/v1/me/photo/): JPEG, PNG or WebP of at most this size.
PARLEY_PHOTO_MAX_BYTES = env.int("PARLEY_PHOTO_MAX_BYTES", default=2 * 1024 * 1024)
# People moved into a denied department or group leave the walled rooms (reads keep them out at
# once; this ends the memberships and detaches live sockets).
CELERY_BEAT_SCHEDULE["category-walls-sweep"] = {
    "task": "chat.tasks.category_walls_sweep",
    "schedule": 300.0,
}
# Search (the compliance archive and employees' history, one core): Elasticsearch when
# ELASTICSEARCH_URL is set, else the embedded tantivy index (a folder on this host, written
# only by the indexing task, tied to this database by its id), or the database itself
# (SQLite FTS5 or PostgreSQL full-text) when asked. All answer the same query language alike.
ELASTICSEARCH_URL = env.str("ELASTICSEARCH_URL", default="")
PARLEY_ARCHIVE_SEARCH_BACKEND = env.str(
    "PARLEY_ARCHIVE_SEARCH_BACKEND", default="elasticsearch" if ELASTICSEARCH_URL else "tantivy"
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

# Calendar presence asks Exchange for the meeting's subject and place too (the "Detailed" view;
# the service account then needs at least "Limited Details" on the calendars), shown at the
# workgroup level only. False asks for the free/busy view alone, as before.
PARLEY_EXCHANGE_MEETING_DETAILS = env.bool("PARLEY_EXCHANGE_MEETING_DETAILS", default=True)
# The administrator's switches for what Parley keeps in people's own mailboxes (each person
# then opts in): conversation history (Lync's Conversation History folder) and contacts kept
# alike both ways. Both act by impersonation: the service account above needs Exchange's
# ApplicationImpersonation role (README "Exchange").
PARLEY_CONVERSATION_HISTORY = env.bool("PARLEY_CONVERSATION_HISTORY", default=False)
PARLEY_CONTACT_SYNC = env.bool("PARLEY_CONTACT_SYNC", default=False)
PARLEY_MAILBOX_SYNC_SECONDS = env.float("PARLEY_MAILBOX_SYNC_SECONDS", default=300.0)
# A busy or throttled Exchange: retried 5 times, after this, then twice as long each time.
PARLEY_MAILBOX_RETRY_SECONDS = env.float("PARLEY_MAILBOX_RETRY_SECONDS", default=30.0)
for _name in ("PARLEY_CONVERSATION_HISTORY", "PARLEY_CONTACT_SYNC"):
    if globals()[_name] and not PARLEY_EXCHANGE_EWS_URL:
        raise ImproperlyConfigured(
            f"{_name} is on, so Parley needs a mailbox server: set PARLEY_EXCHANGE_EWS_URL, "
            f"PARLEY_EXCHANGE_USERNAME and PARLEY_EXCHANGE_PASSWORD, or turn {_name} off."
        )
if PARLEY_CONVERSATION_HISTORY:
    CELERY_BEAT_SCHEDULE["conversation-history-write"] = {
        "task": "chat.tasks.conversation_history_write_all",
        "schedule": PARLEY_MAILBOX_SYNC_SECONDS,
    }
if PARLEY_CONTACT_SYNC:
    CELERY_BEAT_SCHEDULE["contacts-mailbox-sync"] = {
        "task": "presence.tasks.contacts_mailbox_sync_all",
        "schedule": PARLEY_MAILBOX_SYNC_SECONDS,
    }

# Usage reports (archiving/usage/): conversation-day rows derived from the archive, refreshed
# every few minutes, kept PARLEY_USAGE_RETENTION_DAYS whatever the archive's own retention.
PARLEY_USAGE_RETENTION_DAYS = env.int("PARLEY_USAGE_RETENTION_DAYS", default=730)
CELERY_BEAT_SCHEDULE["usage-refresh"] = {
    "task": "archiving.usage.tasks.usage_refresh",
    "schedule": 300.0,
}
CELERY_BEAT_SCHEDULE["usage-purge"] = {
    "task": "archiving.usage.tasks.usage_purge",
    "schedule": crontab(hour=3, minute=15),
}

# Supervision review (supervision/): capture queues these tasks after commit with the ids of
# each captured batch; the sweep (beat) judges what a lost task left out, looking only at
# records older than PARLEY_SUPERVISION_SETTLE_SECONDS (so their transactions have ended).
PARLEY_CAPTURE_FOLLOW_UP_TASKS = env.list(
    "PARLEY_CAPTURE_FOLLOW_UP_TASKS", default=["supervision.tasks.supervision_records_evaluate"]
)
PARLEY_SUPERVISION_SETTLE_SECONDS = env.float("PARLEY_SUPERVISION_SETTLE_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE["supervision-sweep"] = {
    "task": "supervision.tasks.supervision_sweep",
    "schedule": 60.0,
}

# Missed-IM e-mail (chat/services/notices.py): a person with unread direct or group messages
# older than PARLEY_MISSED_IM_EMAIL_MINUTES and no live connection gets one digest through
# Django's mail framework. Off while EMAIL_HOST is empty (the beat task then does nothing).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Parley <parley@localhost>")
PARLEY_MISSED_IM_EMAIL_MINUTES = env.float("PARLEY_MISSED_IM_EMAIL_MINUTES", default=15.0)
# Links in e-mail point here (the address people open Parley at).
PARLEY_PUBLIC_URL = env.str("PARLEY_PUBLIC_URL", default="http://localhost:8000").rstrip("/")
CELERY_BEAT_SCHEDULE["missed-im-email"] = {
    "task": "chat.tasks.missed_im_notices_send",
    "schedule": 60.0,
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

# Directory and single sign-on (README "Directory and single sign-on").
# LDAP / Active Directory: the sync (`manage.py directory_sync`, Celery beat) and LDAP bind for
# the password form and token sign-in. Off while PARLEY_LDAP_URL is empty.
PARLEY_LDAP_URL = env.str("PARLEY_LDAP_URL", default="")
PARLEY_LDAP_START_TLS = env.bool("PARLEY_LDAP_START_TLS", default=False)
PARLEY_LDAP_CA_FILE = env.str("PARLEY_LDAP_CA_FILE", default="")
PARLEY_LDAP_BIND_DN = env.str("PARLEY_LDAP_BIND_DN", default="")
PARLEY_LDAP_BIND_PASSWORD = env.str("PARLEY_LDAP_BIND_PASSWORD", default="")
PARLEY_LDAP_TIMEOUT_SECONDS = env.int("PARLEY_LDAP_TIMEOUT_SECONDS", default=10)
PARLEY_LDAP_USER_BASE_DN = env.str("PARLEY_LDAP_USER_BASE_DN", default="")
PARLEY_LDAP_USER_FILTER = env.str("PARLEY_LDAP_USER_FILTER", default="(objectClass=inetOrgPerson)")
# Entries matching this filter (within the user filter) are disabled accounts. Active Directory:
# (userAccountControl:1.2.840.113556.1.4.803:=2). Empty: only removed entries deactivate.
PARLEY_LDAP_DISABLED_FILTER = env.str("PARLEY_LDAP_DISABLED_FILTER", default="")
PARLEY_LDAP_GROUP_BASE_DN = env.str("PARLEY_LDAP_GROUP_BASE_DN", default="")
PARLEY_LDAP_GROUP_FILTER = env.str("PARLEY_LDAP_GROUP_FILTER", default="(objectClass=groupOfNames)")
PARLEY_LDAP_GROUP_MEMBER_ATTRIBUTE = env.str("PARLEY_LDAP_GROUP_MEMBER_ATTRIBUTE", default="member")
# Directory group cn -> Parley group name, e.g. "parley-compliance=Compliance"; other groups
# keep their cn.
PARLEY_LDAP_GROUP_NAMES = env.dict("PARLEY_LDAP_GROUP_NAMES", default={})
# Person field -> LDAP attribute (an empty attribute leaves the field alone). The defaults suit
# OpenLDAP's inetOrgPerson; Active Directory: username=sAMAccountName, department=department,
# company=company, photo=thumbnailPhoto.
PARLEY_LDAP_ATTRIBUTES = {
    "username": "uid",
    "display_name": "displayName",
    "first_name": "givenName",
    "last_name": "sn",
    "email": "mail",
    "title": "title",
    "department": "ou",
    "company": "o",
    "work_phone": "telephoneNumber",
    "mobile_phone": "mobile",
    "home_phone": "homePhone",
    "photo": "jpegPhoto",
    "manager": "manager",
} | env.dict("PARLEY_LDAP_ATTRIBUTES", default={})
PARLEY_DIRECTORY_SYNC_SECONDS = env.float("PARLEY_DIRECTORY_SYNC_SECONDS", default=900.0)
# Run, with the ids of the people a sync moved between groups or departments, after the sync
# commits (named by dotted path: the directory app imports nothing above it).
PARLEY_DIRECTORY_SYNC_FOLLOW_UPS = [
    "presence.tasks.contact_groups_follow",
    "chat.tasks.information_barriers_enforce",
]
# Backstop for walls that forbid IM: group changes made outside a sync (admin) are enforced here.
CELERY_BEAT_SCHEDULE["information-barriers-sweep"] = {
    "task": "chat.tasks.information_barriers_sweep",
    "schedule": 300.0,
}
if PARLEY_LDAP_URL:
    for _name in ("PARLEY_LDAP_USER_BASE_DN",):
        if not env.str(_name, default=""):
            raise ImproperlyConfigured(
                f"PARLEY_LDAP_URL is set, so the directory needs {_name} (where people are, "
                "e.g. ou=people,dc=example,dc=org); set it, or unset PARLEY_LDAP_URL."
            )
    CELERY_BEAT_SCHEDULE["directory-sync"] = {
        "task": "directory.tasks.directory_sync",
        "schedule": PARLEY_DIRECTORY_SYNC_SECONDS,
    }
# Local passwords: off (false) leaves password sign-in to the directory (LDAP bind) and SSO,
# except for the break-glass administrators named here. Bearer tokens keep working either way.
PARLEY_LOCAL_PASSWORDS = env.bool("PARLEY_LOCAL_PASSWORDS", default=True)
PARLEY_BREAK_GLASS_ADMINS = env.list("PARLEY_BREAK_GLASS_ADMINS", default=[])
AUTHENTICATION_BACKENDS = [
    "directory.backends.LocalPasswordBackend",
    "directory.backends.LdapBindBackend",
]
# OpenID Connect single sign-on (mozilla-django-oidc): on when the client id is set.
OIDC_RP_CLIENT_ID = env.str("PARLEY_OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("PARLEY_OIDC_CLIENT_SECRET", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("PARLEY_OIDC_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("PARLEY_OIDC_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("PARLEY_OIDC_USERINFO_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("PARLEY_OIDC_JWKS_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = env.str("PARLEY_OIDC_SIGN_ALGORITHM", default="RS256")
OIDC_RP_SCOPES = env.str("PARLEY_OIDC_SCOPES", default="openid email profile")
OIDC_TIMEOUT = PARLEY_LDAP_TIMEOUT_SECONDS
OIDC_USE_PKCE = True
# The claim matched to a person's username, then (if absent) the e-mail claim to their e-mail.
PARLEY_OIDC_USERNAME_CLAIM = env.str("PARLEY_OIDC_USERNAME_CLAIM", default="preferred_username")
# Off: the directory decides who exists, and a signed-in stranger is refused.
PARLEY_OIDC_CREATE_USERS = env.bool("PARLEY_OIDC_CREATE_USERS", default=False)
OIDC_CREATE_USER = PARLEY_OIDC_CREATE_USERS
PARLEY_OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=refused"
if PARLEY_OIDC_ENABLED:
    for _name in (
        "PARLEY_OIDC_CLIENT_SECRET",
        "PARLEY_OIDC_AUTHORIZATION_ENDPOINT",
        "PARLEY_OIDC_TOKEN_ENDPOINT",
        "PARLEY_OIDC_USERINFO_ENDPOINT",
        "PARLEY_OIDC_JWKS_ENDPOINT",
    ):
        if not env.str(_name, default=""):
            raise ImproperlyConfigured(
                f"PARLEY_OIDC_CLIENT_ID is set, so single sign-on needs {_name} (from the "
                "provider's /.well-known/openid-configuration); set it, or unset the client id."
            )
    AUTHENTICATION_BACKENDS.append("directory.backends.OidcBackend")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "directory.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies: nesting depth limited, NUL and lone surrogates refused with a 400.
    "DEFAULT_PARSER_CLASSES": ["directory.input_screening.ScreenedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.api_errors.ParleyAutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": "Instant messaging, presence, persistent chat and compliance archive.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get components of their own, so text fields that refuse blanks say
    # minLength 1 (responses may carry empty strings).
    "COMPONENT_SPLIT_REQUEST": True,
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

# A person viewing the same history range again within this many seconds of a captured view is
# counted on that record (archiving.models.HistoryViewRepeat) instead of archived again.
PARLEY_HISTORY_VIEW_WINDOW_SECONDS = env.int("PARLEY_HISTORY_VIEW_WINDOW_SECONDS", default=1800)

# The server's Ed25519 key (archiving/signing.py): signs chain anchors and export manifests;
# made on first use, owner-only. Anchors are also written as files to PARLEY_ANCHOR_DIR, which
# should be storage outside the database (another disk, a share, a WORM bucket's mount).
PARLEY_SIGNING_KEY_PATH = Path(
    env.str("PARLEY_SIGNING_KEY_PATH", default=str(DATA_DIR / "keys" / "archive-ed25519.pem"))
)
PARLEY_ANCHOR_DIR = Path(env.str("PARLEY_ANCHOR_DIR", default=str(DATA_DIR / "anchors")))
