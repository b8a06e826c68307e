"""A private PostgreSQL cluster and a gunicorn serving Funnel on it, for tests that restart the database.

The shared server on 5432 serves other test runs, so it is never restarted: each test that needs a
restart gets its own cluster on a free port, in a directory owned by the ``postgres`` user (the
server refuses to run as root).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2  # type: ignore[import-untyped]
import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_BIN = Path(os.environ.get("POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE_NAME = "funnel"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def as_postgres(*command: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    as_user = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
    done = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class PrivatePostgres:
    directory: Path
    port: int

    @property
    def data_directory(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        log = self.directory / "postgres.log"
        as_postgres(
            str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data_directory), "-l", str(log), "-o", options, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` stops like a crash: no checkpoint, and the next start replays the WAL."""
        as_postgres(str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data_directory), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        status = as_postgres(str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data_directory), "status", check=False)
        return status.returncode == 0

    def connect(self) -> Any:
        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=DATABASE_NAME)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh cluster with an empty ``funnel`` database; stopped and deleted afterwards, whatever happens."""
    directory = Path(tempfile.mkdtemp(prefix="funnel-faults-pg-"))
    shutil.chown(directory, user="postgres", group="postgres")
    server = PrivatePostgres(directory=directory, port=free_port())
    try:
        as_postgres(
            str(POSTGRES_BIN / "initdb"), "-D", str(server.data_directory), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        server.start()
        admin = psycopg2.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE_NAME}")
        admin.close()
        yield server
    finally:
        if server.data_directory.exists() and server.is_running():
            server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


def production_environment(*, database_url: str, redis_url: str, settings_directory: Path) -> dict[str, str]:
    """Production settings as deployed behind a TLS proxy; see ``write_production_settings``."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fault_production_settings",
        "PYTHONPATH": os.pathsep.join([str(settings_directory), str(ROOT)]),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "faults-only-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "INGEST_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "INFO",
    }


def write_production_settings(directory: Path, *, task_queue: str) -> None:
    """Production settings with two changes that do not touch the database path under test.

    Static files are served from the app folders: production's manifest storage needs a
    ``collectstatic`` into the shared checkout. Tasks go to a queue of this test's own, so no
    other test run's worker picks them up.
    """
    (directory / "fault_production_settings.py").write_text(
        "from funnel.settings.production import *  # noqa: F403\n"
        "STORAGES = {\n"
        '    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},\n'
        '    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},\n'
        "}\n"
        f"CELERY_TASK_DEFAULT_QUEUE = {task_queue!r}\n"
    )


SET_UP_SCRIPT = """
import sys
import django
from django.core.management import call_command

django.setup()
call_command("migrate", "--no-input", verbosity=0)
call_command("funnel_user", sys.argv[1], "--role", "revops_admin", "--password", sys.argv[2], "--token")
"""


def migrate_and_create_admin(*, username: str, password: str, environment: dict[str, str]) -> str:
    """Migrates and creates a ``revops_admin`` in one process (Django starts once); returns its API token."""
    done = subprocess.run(
        [sys.executable, "-c", SET_UP_SCRIPT, username, password],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"Setting up the database failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Gunicorn:
    base_url: str
    log_path: Path
    process: "subprocess.Popen[bytes]"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def gunicorn(*, environment: dict[str, str], log_path: Path) -> Iterator[Gunicorn]:
    """``gunicorn funnel.wsgi`` with 2 workers on a free loopback port, stopped afterwards."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "funnel.wsgi",
        "--workers=2",
        f"--bind=127.0.0.1:{port}",
        "--worker-tmp-dir=/dev/shm",
        "--no-control-socket",
        "--timeout=30",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    server = Gunicorn(base_url=f"http://127.0.0.1:{port}", log_path=log_path, process=process)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_serving(server: Gunicorn, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"gunicorn exited:\n{server.log()}"
        try:
            if requests.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer /healthz within {timeout} s:\n{server.log()}")


@contextmanager
def private_task_queue(redis_url: str) -> Iterator[str]:
    """A queue name no worker listens to; its tasks are deleted afterwards."""
    name = f"faults-database-restart-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        redis.Redis.from_url(redis_url).delete(name)
