"""Ingestion through the real doors: gunicorn (2 workers) on loopback, one client process.

- ``/api/v1/activities/batch/``: 200 requests of 1,000 activities (new leads mixed with known
  ones), printed next to the ceiling: a server-side ``INSERT ... SELECT`` of the same rows into
  the same table.
- ``/segment/v1/batch`` through the official Segment SDK (``segment-analytics-python``).
- single ``POST /api/v1/activities/``: p50 and p95 latency.

Every loop is bounded in count and in time; gunicorn is stopped at the end.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import redis
from django.db import connection

from access.services import user_issue_token, user_set_role
from integrations.services import integration_create

from .harness import Timings

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1000
BATCHES = 200
KNOWN_LEADS = 10_000
NEW_PER_BATCH = 300
SEGMENT_EVENTS = 200_000
SINGLE_POSTS = 2000
# Connections from the one client process: enough that both workers always have a request waiting.
CLIENT_THREADS = 4
TIME_LIMIT = 300.0
BROKER = "redis://127.0.0.1:6379/3"
START = datetime(2026, 1, 5, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url() -> str:
    settings = connection.settings_dict
    credentials = quote(settings["USER"] or "")
    if settings["PASSWORD"]:
        credentials += ":" + quote(settings["PASSWORD"])
    host = f"{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{settings['NAME']}"


def broker_url() -> str:
    """Redis db 3 when it answers (tasks queue as in production); in-process tasks otherwise."""
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return ""
    return BROKER


def app_environment(broker: str) -> dict[str, str]:
    """Production settings on loopback: the benchmark's database and broker, throttles out of the way."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "funnel.settings.production",
        "DATABASE_URL": database_url(),
        "REDIS_URL": broker,
        "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "INGEST_THROTTLE_RATE": "1000000/min",
        "SEGMENT_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def gunicorn(port: int, broker: str) -> Iterator[None]:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "funnel.wsgi",
        "--workers=2",
        f"--bind=127.0.0.1:{port}",
        "--worker-tmp-dir=/dev/shm",
        "--no-control-socket",
        "--log-level=warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=app_environment(broker))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/healthz")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not answer /healthz within 30 s")
        yield
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def activity(email: str, key: str, n: int) -> dict[str, object]:
    return {
        "email": email,
        "kind": "product" if n % 4 else "form",
        "name": "Workspace Limit Reached" if n % 4 else "Demo Request",
        "occurred_at": (START + timedelta(seconds=n)).isoformat(),
        "properties": {"plan": "free", "seats": n % 50},
        "source_system": "bench",
        "external_id": key,
    }


def batch_bodies() -> list[bytes]:
    bodies = []
    for b in range(BATCHES):
        items = []
        for i in range(BATCH):
            n = b * BATCH + i
            if i < NEW_PER_BATCH:
                email = f"new{b}-{i}@company{n % 2000}.example"
            else:
                email = f"known{n % KNOWN_LEADS}@company{n % 2000}.example"
            items.append(activity(email, f"b{n}", n))
        bodies.append(json.dumps({"activities": items}).encode())
    return bodies


def post_all(port: int, token: str, path: str, bodies: list[bytes], deadline: float) -> tuple[int, list[float]]:
    """POST every body with CLIENT_THREADS keep-alive connections; returns (requests sent, seconds each)."""
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    lock = threading.Lock()
    queue = list(reversed(bodies))
    seconds: list[float] = []
    failures: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                if not queue or failures:
                    break
                body = queue.pop()
            started = time.perf_counter()
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            with lock:
                seconds.append(elapsed)
                if response.status >= 300:
                    failures.append(f"{response.status}: {payload[:300]!r}")
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{path} failed: {failures[0]}")
    return len(seconds), seconds


def ceiling(rows: int) -> float:
    """Rows/s of a server-side INSERT ... SELECT of the batch rows into the same table (rolled back)."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        started = time.perf_counter()
        cursor.execute(
            "INSERT INTO leads_activity (lead_id, kind, name, properties, occurred_at, source_system, external_id,"
            " recorded_at) SELECT lead_id, kind, name, properties, occurred_at, 'ceiling', external_id, recorded_at"
            " FROM leads_activity WHERE source_system = 'bench'"
        )
        inserted = cursor.rowcount
        elapsed = time.perf_counter() - started
        cursor.execute("ROLLBACK")
    assert inserted == rows, (inserted, rows)
    return inserted / elapsed


def activities_stored(source_system: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM leads_activity WHERE source_system = %s", [source_system])
        return int(cursor.fetchone()[0])


def known_leads_setup(port: int, token: str, deadline: float) -> None:
    bodies = []
    for start in range(0, KNOWN_LEADS, BATCH):
        items = [
            activity(f"known{n}@company{n % 2000}.example", f"setup{n}", n) | {"source_system": "setup"}
            for n in range(start, start + BATCH)
        ]
        bodies.append(json.dumps({"activities": items}).encode())
    post_all(port, token, "/api/v1/activities/batch/", bodies, deadline)


def segment_run(port: int, write_key: str, deadline: float) -> tuple[int, float]:
    from segment.analytics import Client

    errors: list[Exception] = []
    users = 5000
    identify = Client(
        write_key,
        host=f"http://127.0.0.1:{port}/segment",
        max_retries=0,
        upload_size=500,
        on_error=lambda error, batch: errors.append(error),
    )
    for u in range(users):
        identify.identify(f"user-{u}", {"email": f"seg{u}@company{u % 2000}.example"})
    identify.flush()
    identify.shutdown()
    client = Client(
        write_key,
        host=f"http://127.0.0.1:{port}/segment",
        max_retries=0,
        upload_size=1000,
        thread=CLIENT_THREADS,
        max_queue_size=SEGMENT_EVENTS + 1,
        on_error=lambda error, batch: errors.append(error),
    )
    started = time.perf_counter()
    sent = 0
    for n in range(SEGMENT_EVENTS):
        if n % 1000 == 0 and time.monotonic() > deadline:
            break
        client.track(
            f"user-{n % users}",
            "Workspace Limit Reached",
            {"plan": "free"},
            message_id=f"seg-{n}",
            timestamp=START + timedelta(seconds=n),
        )
        sent += 1
    client.flush()
    elapsed = time.perf_counter() - started
    client.shutdown()
    if errors:
        raise RuntimeError(f"the Segment SDK reported {len(errors)} errors, first: {errors[0]}")
    return sent, elapsed


def single_posts(port: int, token: str, deadline: float) -> Timings:
    timings = Timings("POST /api/v1/activities/")
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for n in range(SINGLE_POSTS):
        if time.monotonic() > deadline:
            break
        body = json.dumps(
            activity(f"single{n % 500}@company{n % 2000}.example", f"s{n}", n) | {"source_system": "single"}
        )
        with timings.measure():
            conn.request("POST", "/api/v1/activities/", body, headers)
            response = conn.getresponse()
            response.read()
        if response.status != 201:
            raise RuntimeError(f"single POST answered {response.status}")
    conn.close()
    return timings


def run() -> list[Timings]:
    if connection.vendor != "postgresql":
        print("ingestion: needs PostgreSQL (DATABASE_URL=postgres://...); skipped.")
        return []
    user, _ = user_set_role(username="bench-ingest", role="revops_admin")
    token = user_issue_token(user=user)
    write_key = integration_create(kind="segment", name="bench").secret
    broker = broker_url()
    connection.close()
    port = free_port()
    print(
        f"gunicorn: 2 workers on 127.0.0.1:{port}; client: 1 process, {CLIENT_THREADS} connections; "
        f"tasks: {'Redis ' + broker if broker else 'in-process'}"
    )
    deadline = time.monotonic() + TIME_LIMIT
    results: list[Timings] = []
    try:
        with gunicorn(port, broker):
            known_leads_setup(port, token, deadline)
            bodies = batch_bodies()
            started = time.perf_counter()
            requests, seconds = post_all(port, token, "/api/v1/activities/batch/", bodies, deadline)
            elapsed = time.perf_counter() - started
            stored = activities_stored("bench")
            rate = stored / elapsed
            top = ceiling(stored)
            batch_timings = Timings(f"POST batch of {BATCH}", seconds)
            print(
                f"REST batch:   {stored:>7} activities in {elapsed:6.2f} s = {rate:>8.0f} activities/s "
                f"({requests} requests)"
            )
            print(
                f"ceiling:      INSERT ... SELECT of the same {stored} rows = {top:>8.0f} rows/s; "
                f"ratio {rate / top:.3f} ({top / rate:.1f}x slower)"
            )
            print("again:        the same 200 batches re-sent ...", end=" ")
            post_all(port, token, "/api/v1/activities/batch/", bodies, deadline)
            print(
                f"activities stored: {activities_stored('bench')} (unchanged: {activities_stored('bench') == stored})"
            )
            sent, seg_elapsed = segment_run(port, write_key, deadline)
            seg_stored = activities_stored("segment")
            print(
                f"Segment SDK:  {seg_stored:>7} of {sent} tracks stored in {seg_elapsed:6.2f} s = "
                f"{seg_stored / seg_elapsed:>8.0f} events/s; ratio to the ceiling {seg_stored / seg_elapsed / top:.3f}"
            )
            results.append(batch_timings)
            results.append(single_posts(port, token, deadline))
    finally:
        if broker:
            redis.Redis.from_url(broker).delete("celery")
    return results
