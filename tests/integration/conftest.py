from collections.abc import Generator, Iterator
from typing import Any

import pytest
from celery.signals import after_task_publish
from django.conf import settings
from django.db import connection

from funnel.celery import app as celery_app
from tests.conftest import redis_available, require_service

from .workers import LiveWorker, Published


@pytest.fixture(scope="module")
def live_worker(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorker]:
    """A worker for this module's tests; meanwhile the test process publishes to the worker's queue.

    The module's tests share one worker: starting one costs a few seconds. It is stopped before
    pytest-django drops the test database, which PostgreSQL refuses while the worker is connected.
    """
    # Module-scoped fixtures run before the autouse service check, so they check for themselves.
    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL=postgres://...)")
    require_service(redis_available(), "Redis (REDIS_URL=redis://...)")
    assert not celery_app.conf.task_always_eager, "REDIS_URL is set, so tasks must go through the broker."
    assert celery_app.conf.broker_url == settings.REDIS_URL

    worker = LiveWorker.start(log_path=tmp_path_factory.mktemp("celery-worker") / "worker.log")
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = worker.queue
    try:
        if not worker.wait_until_ready():
            pytest.fail(
                f"The Celery worker did not become ready (exit code {worker.process.poll()}).\n{worker.log()}",
                pytrace=False,
            )
        yield worker
    finally:
        celery_app.conf.task_default_queue = default_queue
        worker.stop()


@pytest.fixture
def published() -> Iterator[list[Published]]:
    """Every task message the test process hands to the broker while the test runs."""
    messages: list[Published] = []

    def record(sender: str | None = None, body: Any = None, routing_key: str = "", **_: Any) -> None:
        args = list(body[0]) if isinstance(body, list | tuple) else []
        messages.append(Published(task=sender or "", routing_key=routing_key, args=args))

    after_task_publish.connect(record, weak=False)
    try:
        yield messages
    finally:
        after_task_publish.disconnect(record)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    worker = getattr(item, "funcargs", {}).get("live_worker")
    if report.failed and isinstance(worker, LiveWorker):
        report.sections.append(("Celery worker log", worker.log()))
    return report
