"""A real Celery worker process for integration tests, and what the test process publishes."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from django.conf import settings
from django.db import connection

from funnel.celery import app as celery_app

WORKER_READY_TIMEOUT = 30.0
WORKER_STOP_TIMEOUT = 10.0


@dataclass
class Published:
    task: str
    routing_key: str
    args: list[Any]


def wait_for(condition: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def session_database_url() -> str:
    """The URL of the database this test session uses: pytest-django's test database, not DATABASE_URL's."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


@dataclass
class LiveWorker:
    """A ``celery worker`` process consuming a queue of its own, against the session's test database."""

    process: subprocess.Popen[bytes]
    queue: str
    hostname: str
    log_path: Path

    @classmethod
    def start(cls, *, log_path: Path) -> "LiveWorker":
        queue = f"funnel-test-{uuid.uuid4().hex[:12]}"
        hostname = f"{queue}@localhost"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "funnel.settings.test",
            "DATABASE_URL": session_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "FUNNEL_TEST_QUEUE": queue,
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.integration.worker_app",
            "worker",
            "--pool=solo",
            "--loglevel=info",
            f"--queues={queue}",
            f"--hostname={hostname}",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT
            )
        return cls(process=process, queue=queue, hostname=hostname, log_path=log_path)

    def wait_until_ready(self, timeout: float = WORKER_READY_TIMEOUT) -> bool:
        def exited_or_answers() -> bool:
            return self.exited or bool(celery_app.control.ping(destination=[self.hostname], timeout=0.5))

        return wait_for(exited_or_answers, timeout=timeout) and not self.exited

    @property
    def exited(self) -> bool:
        return self.process.poll() is not None

    def stop(self) -> None:
        """Warm shutdown (SIGTERM); SIGKILL if the worker is still running after a grace period."""
        if not self.exited:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WORKER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(match=f"*{self.queue}*"):
            client.delete(key)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"
