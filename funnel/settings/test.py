"""The test suite: the database and broker come from DATABASE_URL and REDIS_URL when set."""

import os

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Pytest captures the records; the app's request filter still applies, its console handler does not.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": LOGGING["filters"],
    "loggers": {"django.request": LOGGING["loggers"]["django.request"]},
}

# Static files come from the app folders (WhiteNoise finders); the collected folder may not exist yet.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(exist_ok=True)

# Lets two test runs share one PostgreSQL server without sharing a test database.
if os.environ.get("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}
