"""Settings shared by every environment. Every value comes from the environment."""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url

from reporting.schedules import ZonedCrontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-local-development-key-change-me")
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "access",
    "jobs",
    "leads",
    "opportunities",
    "reporting",
    "integrations",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "access.parsers.QueryWithoutNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A view that cannot reach the database answers 503 with Retry-After instead of 500.
    "access.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "funnel.urls"
WSGI_APPLICATION = "funnel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "access.context_processors.navigation",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes a writing transaction take SQLite's write lock up front, so concurrent
    # writers queue on the busy timeout instead of failing with "database is locked".
    # WAL lets pages read while a write is under way; NORMAL syncs at checkpoints, not every commit.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Brute-force protection for every login (the login page, the admin, the test client's login()).
# A username is locked from one address after LOGIN_FAILURE_LIMIT bad passwords, for
# LOGIN_COOLOFF_MINUTES; another address, or another username, can still sign in.
AUTHENTICATION_BACKENDS = [
    "access.backends.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "access.views.login_locked_out"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Weeks in reports are ISO weeks in this zone (FUNNEL.md, "Weekly report").
REPORT_TIME_ZONE = os.environ.get("REPORT_TIME_ZONE", "UTC")
# How many trailing weeks the Monday rebuild (and build_weekly_report without --from) recomputes.
REPORT_REBUILD_WEEKS = int(os.environ.get("REPORT_REBUILD_WEEKS", "52"))

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "access.api.funnel_exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "access.parsers.FunnelJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "access.schema.FunnelAutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "ingest": os.environ.get("INGEST_THROTTLE_RATE", "1200/min"),
        "segment": os.environ.get("SEGMENT_THROTTLE_RATE", "1200/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Funnel API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "LeadStageEnum": "leads.choices.LeadStage",
        "EpisodeStageEnum": "leads.choices.EpisodeStage",
        "OpportunityStageEnum": "opportunities.choices.OpportunityStage",
    },
    # Schema warnings are reported by tests (tests/integrations/test_api.py), not by `check --deploy`.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}
# Ingestion: the largest request body (413 beyond it) and the most activities in one batch.
INGEST_MAX_BODY_BYTES = int(os.environ.get("INGEST_MAX_BODY_BYTES", str(5 * 1024 * 1024)))
INGEST_MAX_BATCH = 1000
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_MAX_BODY_BYTES

# Celery. Without REDIS_URL tasks run in-process (the embedded default of `make run`).
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A whole worker that dies holding a task gives it back after this many seconds (kombu's
# default is an hour); PostgreSQL stays the source of truth and periodic sweeps catch the rest.
# Socket timeouts and one quick publish retry make a request that enqueues give up at once when Redis
# is down and within about two seconds when it hangs: the enqueue is logged and a sweep sends it later.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 20 * 60,
    "socket_connect_timeout": 1,
    "socket_timeout": 1,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "classify-pending-leads": {
        "task": "leads.tasks.classify_pending_leads",
        "schedule": 5 * 60,
        "options": {"expires": 4 * 60},
    },
    "recycle-due-episodes": {
        "task": "leads.tasks.recycle_due_episodes",
        "schedule": 60 * 60,
        "options": {"expires": 50 * 60},
    },
    # A job whose task was lost (dead worker, broker outage) is sent again; see jobs.services.
    "resume-stalled-jobs": {
        "task": "jobs.tasks.resume_stalled_jobs",
        "schedule": 60,
        "options": {"expires": 50},
    },
    "replay-pending-segment-events": {
        "task": "integrations.tasks.replay_pending_segment_events",
        "schedule": 5 * 60,
        "options": {"expires": 4 * 60},
    },
    # Mondays 06:00 in REPORT_TIME_ZONE, whatever CELERY_TIMEZONE says.
    "rebuild-weekly-report": {
        "task": "reporting.tasks.rebuild_trailing_weeks",
        "schedule": ZonedCrontab(minute=0, hour=6, day_of_week="mon", time_zone=REPORT_TIME_ZONE),
        "options": {"expires": 6 * 60 * 60},
    },
}

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"client_errors_without_traceback": {"()": "funnel.log_filters.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["client_errors_without_traceback"]},
        # In-process tasks would log a line for every lead change.
        "celery.app.trace": {"level": "INFO" if REDIS_URL else "WARNING"},
    },
}
