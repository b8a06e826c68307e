import importlib
import logging
import os
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from django.db import OperationalError
from kombu.exceptions import OperationalError as KombuOperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnel.settings.dev")

app = Celery("funnel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


# The options of idempotent tasks: given back if a worker dies mid-task (acks_late with
# reject_on_worker_lost), and retried with jittered backoff when the database connection fails.
RETRIED_ON_DATABASE_ERRORS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_jitter": True,
}


def task_named(name: str) -> Task:
    """The registered task ``name``; its module is imported first, as a web process may not have yet."""
    importlib.import_module(name.rpartition(".")[0])
    return app.tasks[name]


def send_unless_broker_down(send: Callable[[], object], *, consequence: str) -> bool:
    """Call ``send`` (which publishes a task); when the broker cannot take it, log ``consequence``
    and return False.

    Callers keep PostgreSQL the source of truth (a mark, a queued job) that a periodic sweep finds
    again, so a broker outage delays their work instead of failing the request that asked for it.
    Publishing gives up quickly: see CELERY_BROKER_TRANSPORT_OPTIONS and CELERY_TASK_PUBLISH_RETRY_POLICY.
    """
    try:
        send()
    except KombuOperationalError as error:
        logger.warning("The broker is unavailable (%s): %s", error, consequence)
        return False
    return True
