import os
from typing import Any

from celery import Celery
from django.db import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnel.settings.dev")

app = Celery("funnel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# The options of idempotent tasks: given back if a worker dies mid-task (acks_late with
# reject_on_worker_lost), and retried with jittered backoff when the database connection fails.
RETRIED_ON_DATABASE_ERRORS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_jitter": True,
}
