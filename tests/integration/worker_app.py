"""The project's Celery app, for a worker that an integration test starts.

The worker consumes one queue named by the test and publishes follow-up tasks (the sweep's
``classify_leads``) to that same queue. The shared default queue may hold tasks that other test
runs enqueued against other databases, and another worker may be consuming it.
"""

import os

from funnel.celery import app

app.conf.task_default_queue = os.environ["FUNNEL_TEST_QUEUE"]

__all__ = ["app"]
