"""Services that fault tests stop and start: a private redis-server, the broker the test process
publishes to, Celery workers that can be killed, and PostgreSQL locks that hold a task mid-way."""

import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection, connections
from django.test import override_settings

from funnel.celery import app as celery_app
from tests.integration.workers import LiveWorker, wait_for

REDIS_START_TIMEOUT = 10.0
REDIS_STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateRedis:
    """A redis-server of the test's own, on a free port, that keeps its data in an append-only file.

    Stopping it never touches the shared Redis that other test runs use.
    """

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.fail("redis-server is not installed; the fault tests start a Redis of their own.")
        command = [server, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        command += ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.directory)]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        if not wait_for(self.answers, timeout=REDIS_START_TIMEOUT, interval=0.05):
            self.stop()
            pytest.fail(f"The private redis-server did not start:\n{self.log()}")

    def hang(self) -> None:
        """Freeze the server (SIGSTOP): connections are still accepted, nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def stop(self) -> None:
        """Shut down as an operator would (SIGTERM): the append-only file is flushed first."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=REDIS_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"


def _forget_broker_pools() -> None:
    """Make the app look its broker pools up again, by URL, at the next publish.

    The pools stay open in kombu's registry, which is keyed by URL and shared: closing one would
    break every later publish to that URL in this process.
    """
    app: Any = celery_app
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """The test process, and workers it starts (LiveWorker reads REDIS_URL), use the broker at ``url``."""
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    _forget_broker_pools()
    celery_app.conf.update(broker_url=url, task_always_eager=False)
    try:
        with override_settings(REDIS_URL=url, CELERY_BROKER_URL=url, CELERY_TASK_ALWAYS_EAGER=False):
            yield
    finally:
        _forget_broker_pools()
        celery_app.conf.update(broker_url=saved[0], task_always_eager=saved[1])


@contextmanager
def private_broker(directory: Path) -> Iterator[PrivateRedis]:
    """A private redis-server: the broker of this process and of the workers it starts."""
    directory.mkdir()
    server = PrivateRedis(directory=directory)
    server.start()
    try:
        with broker_at(server.url):
            yield server
    finally:
        server.stop()


class Workers:
    """Celery workers of one test. The test process publishes to the queue of the latest one."""

    def __init__(self, log_directory: Path) -> None:
        self.log_directory = log_directory
        self.started: list[LiveWorker] = []

    def start(self) -> LiveWorker:
        worker = LiveWorker.start(log_path=self.log_directory / f"worker-{len(self.started)}.log")
        self.started.append(worker)
        celery_app.conf.task_default_queue = worker.queue
        if not worker.wait_until_ready():
            pytest.fail(f"The Celery worker did not become ready.\n{worker.log()}", pytrace=False)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {worker.log_path.name}\n{worker.log()}" for worker in self.started)


@contextmanager
def workers_on(server: PrivateRedis, *, log_directory: Path) -> Iterator[Workers]:
    default_queue = celery_app.conf.task_default_queue
    workers = Workers(log_directory=log_directory)
    try:
        yield workers
    finally:
        if server.process is None:
            server.start()  # stopping a worker deletes its queue from Redis
        workers.stop_all()
        celery_app.conf.task_default_queue = default_queue


def kill(worker: LiveWorker) -> None:
    """SIGKILL the whole worker (the solo pool runs tasks in the worker process itself)."""
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait()


@dataclass
class HeldLock:
    """A lock held by a second database session; ``blocked`` lists the sessions waiting for it."""

    session_pid: int
    blocked: Callable[[], list[int]]


@contextmanager
def lock_held(statement: str, params: Sequence[Any] | None = None) -> Iterator[HeldLock]:
    """Run a locking ``statement`` in a transaction of a second session and keep it until the block ends."""
    holder = connections.create_connection("default")
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute(statement, params)
            cursor.execute("SELECT pg_backend_pid()")
            (holder_pid,) = cursor.fetchone()

        def blocked() -> list[int]:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [holder_pid])
                return [pid for (pid,) in cursor.fetchall()]

        yield HeldLock(session_pid=holder_pid, blocked=blocked)
    finally:
        holder.rollback()
        holder.close()


def session_ended(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is None
