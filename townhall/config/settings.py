"""Django settings for Townhall. Everything a deployment changes comes from ``TOWNHALL_*``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import dj_database_url
import dj_email_url

from townhall.config import env

DEBUG = env.get_bool("DEBUG", False)
SECRET_KEY = env.secret_key()
ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
VAR_DIR = env.var_dir()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "django_tasks",
    "django_tasks_db",
    "townhall.core",
    "townhall.sites",
    "townhall.identity",
    "townhall.discussions",
    "townhall.notifications",
    "townhall.moderation",
    "townhall.live",
    "townhall.support",
    "townhall.migration",
    "townhall.widget",
    "townhall.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before the middleware that may answer early, so that every response gets the headers.
    "townhall.core.middleware.SecurityHeadersMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "townhall.core.middleware.RequestSizeLimitMiddleware",
    "townhall.core.middleware.JsonApiErrorsMiddleware",
    # Database out of reach or full: 503 or 507 rather than a 500 (the API has its handlers).
    "townhall.core.middleware.DatabaseFaultsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "townhall.config.urls"
ASGI_APPLICATION = "townhall.config.asgi.application"
WSGI_APPLICATION = "townhall.config.wsgi.application"

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
            ],
        },
    },
]


def _database(url: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=env.get_int("DB_CONN_MAX_AGE", 60))
    )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Django's SQLite backend with writers queued, woken as the write lock frees rather than
        # sleeping in SQLite's busy handler (townhall/core/sqlite/base.py).
        config["ENGINE"] = "townhall.core.sqlite"
        # WAL lets readers go on while one writer writes; IMMEDIATE takes the write lock at the
        # start of a transaction so two writers queue instead of failing with "database is locked".
        config["OPTIONS"] = {
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    else:
        config["CONN_HEALTH_CHECKS"] = True
    config.setdefault("TEST", {})["NAME"] = env.get("TEST_DATABASE_NAME") or None
    return config


DATABASES = {
    "default": _database(env.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'townhall.sqlite3'}")
}
# Read replicas (PostgreSQL streaming replicas of the default database): readers' GET requests
# read from them, everything else from the default (townhall/config/routers.py).
DATABASES.update(
    (f"replica_{number}", {**_database(url), "TEST": {"MIRROR": "default"}})
    for number, url in enumerate(env.get_list("DATABASE_REPLICA_URLS"), start=1)
)
if len(DATABASES) > 1:
    DATABASE_ROUTERS = ["townhall.config.routers.PrimaryReplicaRouter"]
    MIDDLEWARE.insert(0, "townhall.config.routers.ReplicaReadsMiddleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.get("REDIS_URL") or None
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache, answering as an empty cache while Redis is away
            # (townhall/core/cache.py): reads and posts go on without it.
            "BACKEND": "townhall.core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.get("CACHE_PREFIX", "townhall"),
            "TIMEOUT": 3600,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "townhall",
            "TIMEOUT": 3600,
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    }

# django-ratelimit: counters live in the default cache (Redis when configured, so all processes
# share them). TOWNHALL_RATELIMIT=0 switches limits off for benchmarks and bulk loads.
RATELIMIT_ENABLE = env.get_bool("RATELIMIT", True)
RATELIMIT_USE_CACHE = "default"
# While Redis is away the counters cannot be kept: let requests through rather than refuse them.
RATELIMIT_FAIL_OPEN = True
if not REDIS_URL:
    # locmem is per process; django-ratelimit warns that it is not shared, which is accepted
    # for the single-process embedded default.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001", "django_ratelimit.E003"]

# CORS: preflights succeed for origins some site allows; each write then checks the origin
# against its own site (townhall.core.origins).
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "if-none-match",
    "last-event-id",
]
CORS_EXPOSE_HEADERS = ["etag", "retry-after"]
CORS_PREFLIGHT_MAX_AGE = 600

# Request size: a comment body is at most a few KiB; nothing in the API needs more than this.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.get_int("MAX_REQUEST_BYTES", 64 * 1024)

TRUSTED_PROXIES = env.get_list("TRUSTED_PROXIES")

# Live event streams open at once in one process; more get 503 (live/streams.py). `townhall
# serve` lets that many requests be in flight per worker, beside ordinary ones.
LIVE_MAX_STREAMS = env.get_int("LIVE_MAX_STREAMS", 10_000)

# The address readers reach this server at, for links in emails.
PUBLIC_URL = (env.get("PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
# Forms (the moderators' pages, subscription pages) posted from the public address, also when a
# TLS-terminating proxy in front speaks plain HTTP to Townhall.
_public = urlsplit(PUBLIC_URL)
CSRF_TRUSTED_ORIGINS = [f"{_public.scheme}://{_public.netloc}"]

# Email leaves through the database-backed task queue (`townhall worker`).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
DEFAULT_FROM_EMAIL = env.get("EMAIL_FROM") or "Townhall <townhall@localhost>"
EMAIL_URL = env.get("EMAIL_URL")
if EMAIL_URL:
    # smtp://user:password@host:587?tls=True, smtps://…, console://
    globals().update(dj_email_url.parse(EMAIL_URL))
else:
    # Without an SMTP server (the demo), each message is written to a file under var/mail/.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_TIMEOUT = 20

# Threads per process running Django's request cycle (everything but the thread-read fast path).
REQUEST_THREADS = env.get_int("THREADS", 8)

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Security headers (docs/deploy.md, "Security headers"): Django's SecurityMiddleware and
# XFrameOptionsMiddleware send these; townhall.core.middleware.SecurityHeadersMiddleware adds
# each response's Content-Security-Policy and the API's Referrer-Policy (no-referrer).
SECURE_CONTENT_TYPE_NOSNIFF = True
# Stricter than strict-origin-when-cross-origin: Townhall's pages tell other sites nothing, not
# even their origin (the addresses of email links hold tokens). Same-origin requests keep the
# full address, which Django's CSRF check of HTTPS form posts reads when Origin is absent.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Nothing Townhall serves is framed (the widget is a script, not an iframe).
X_FRAME_OPTIONS = "DENY"
# No HSTS from Django: TLS ends at the proxy, so Django sees plain HTTP (it sends HSTS only on
# requests it knows are secure); the proxy sends it (docs/deploy.md, "Security headers").
# Cookies serve only Townhall's own pages (moderation, admin, subscription and test-checkout
# pages), never the widget: it sends a bearer token (docs/sso.md, "Why no cookies"). Lax: sent
# on top-level navigation to these pages, never on cross-site subrequests or form posts.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# No script reads the CSRF cookie: forms carry the token (moderate.js posts the forms).
CSRF_COOKIE_HTTPONLY = True
# Secure when served over TLS: TOWNHALL_PUBLIC_URL is https, or TOWNHALL_SECURE_COOKIES=1.
SESSION_COOKIE_SECURE = env.get_bool("SECURE_COOKIES", _public.scheme == "https")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django logs every 4xx with the path and query string, which for this API holds
        # readers' article URLs; Townhall logs what it needs itself.
        "django.request": {"level": "ERROR"},
    },
}
