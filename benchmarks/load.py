"""The whole app under mixed traffic: locust against gunicorn, with a real Celery worker on Redis.

Seeds the demo funnel (users, the published demo ruleset, leads with their activities, open
opportunities) and builds the weekly report snapshots, then runs ``benchmarks/locustfile.py``
headless for ``LOAD_DURATION`` (default ``5m``; ``LOAD_USERS`` and ``LOAD_SPAWN_RATE`` set the
crowd). By task weight: ingestion 80%, an analyst's dashboards 10%, a rep's queue work 10%.
Prints requests, failures, p50 and p95 per endpoint; then checks that every activity the API
accepted is stored exactly once, and counts leads still waiting for classification once the worker
has drained the queue. Fails when a request failed or the check does not hold.
"""

import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from access.roles import Role
from access.services import user_issue_token, user_set_role
from integrations.services import integration_create
from leads.models import Lead
from leads.selectors import leads_pending_classification
from leads.transitions import Actor
from opportunities.choices import OpportunityStage
from opportunities.demo import DEMO_PASSWORD, DEMO_USERS, demo_seed
from opportunities.models import Opportunity
from opportunities.services import meeting_book

from .harness import BenchmarkFailed, Timings
from .ingestion import ROOT, app_environment, free_port, gunicorn

DURATION = os.environ.get("LOAD_DURATION", "5m")
USERS = int(os.environ.get("LOAD_USERS", "24"))
SPAWN_RATE = float(os.environ.get("LOAD_SPAWN_RATE", "8"))
SEED_LEADS = 2000
# Booked on seeded leads, so reps find a full queue from the first second.
SEED_MEETINGS = 400
EXTRA_REPS = 5
CELERY_CONCURRENCY = 2
# The benchmark owns this Redis database: it empties it before and after the run.
BROKER = "redis://127.0.0.1:6379/7"
DRAIN_TIMEOUT = 300.0
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class EndpointStats:
    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    per_second: float


@dataclass(frozen=True)
class LoadOutcome:
    endpoints: list[EndpointStats]
    failures: list[tuple[str, str, int]]
    accepted: set[tuple[str, str]]
    races: int
    drain_seconds: float


def run() -> list[Timings]:
    if connection.vendor != "postgresql":
        print("load: needs PostgreSQL (DATABASE_URL=postgres://...); skipped.")
        return []
    broker = redis.Redis.from_url(BROKER, socket_connect_timeout=1)
    try:
        broker.flushdb()
    except redis.RedisError:
        print(f"load: needs Redis at {BROKER} for the Celery worker; skipped.")
        return []
    traffic_env = seed()
    connection.close()
    try:
        outcome = drive(traffic_env, broker)
    finally:
        broker.flushdb()
    seconds = duration_seconds(DURATION)
    print_table(outcome.endpoints, seconds)
    print(f"rep actions that lost a race to another rep (403/409, expected): {outcome.races}")
    print(f"activities accepted: {len(outcome.accepted):,} = {len(outcome.accepted) / seconds:,.0f}/s")
    problems = [f"{count} x {name}: {error}" for name, error, count in outcome.failures]
    problems += reconcile(outcome.accepted)
    problems += classification_backlog(outcome.drain_seconds)
    if problems:
        raise BenchmarkFailed("; ".join(problems[:10]))
    return []


def drive(traffic_env: dict[str, str], broker: redis.Redis) -> LoadOutcome:
    """Gunicorn and a Celery worker under locust's traffic, until the worker has drained the queue."""
    port = free_port()
    print(
        f"gunicorn: 2 sync workers (as in the Docker image) on 127.0.0.1:{port}; celery: 1 worker, "
        f"concurrency {CELERY_CONCURRENCY}, broker {BROKER}; locust: {USERS} users for {DURATION}"
    )
    collect_static()
    with tempfile.TemporaryDirectory(prefix="funnel-load-") as workdir:
        work = Path(workdir)
        with celery_worker(work / "celery.log"), gunicorn(port, BROKER):
            locust_run(port, work, traffic_env)
            drain_seconds = wait_for_drain(broker)
        return LoadOutcome(
            endpoints=read_stats(work / "load_stats.csv"),
            failures=read_failures(work / "load_failures.csv"),
            accepted=read_accepted_keys(work),
            races=sum(len(path.read_text().splitlines()) for path in work.glob("races-*.txt")),
            drain_seconds=drain_seconds,
        )


def seed() -> dict[str, str]:
    """The demo funnel and its snapshots; returns the credentials locust needs, as environment variables."""
    started = time.perf_counter()
    summary = demo_seed(leads=SEED_LEADS)
    assert summary is not None
    book_meetings(SEED_MEETINGS)
    call_command("build_weekly_report", verbosity=0)
    reps = [name for name, role in DEMO_USERS if role == Role.SALES_REP]
    for n in range(1, EXTRA_REPS + 1):
        user_set_role(username=f"load-rep{n}", role=Role.SALES_REP, password=DEMO_PASSWORD)
        reps.append(f"load-rep{n}")
    analysts = [name for name, role in DEMO_USERS if role == Role.ANALYST]
    User.objects.filter(username__in=reps + analysts).update(password=production_hash(DEMO_PASSWORD))
    admin, _ = user_set_role(username="load-ingest", role=Role.REVOPS_ADMIN)
    open_opportunities = Opportunity.objects.filter(stage=OpportunityStage.OPEN).count()
    print(
        f"seeded in {time.perf_counter() - started:.1f} s: {summary.leads:,} leads, {summary.activities:,} "
        f"activities, {Opportunity.objects.count():,} opportunities ({open_opportunities:,} open), weekly report built"
    )
    return {
        "LOAD_TOKEN": user_issue_token(user=admin),
        "LOAD_SEGMENT_WRITE_KEY": integration_create(kind="segment", name="load").secret,
        "LOAD_PASSWORD": DEMO_PASSWORD,
        "LOAD_ANALYSTS": ",".join(analysts),
        "LOAD_REPS": ",".join(reps),
    }


def production_hash(password: str) -> str:
    """This process runs the test settings, whose fast MD5 hasher the production settings do not accept."""
    hasher = PBKDF2PasswordHasher()
    return hasher.encode(password, hasher.salt())


def book_meetings(count: int) -> None:
    without_opportunity = Lead.objects.exclude(opportunities__stage=OpportunityStage.OPEN).order_by("pk")
    for email in without_opportunity.values_list("email", flat=True)[:count]:
        meeting_book(email=email, actor=Actor.integration("load"), external_id=f"seed-{email}")


@contextmanager
def celery_worker(log: Path) -> Iterator[None]:
    command = [
        str(BIN / "celery"),
        "-A",
        "funnel",
        "worker",
        f"--concurrency={CELERY_CONCURRENCY}",
        f"--hostname=load-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=WARNING",
    ]
    with log.open("w") as output:
        worker = subprocess.Popen(
            command, cwd=ROOT, env=app_environment(BROKER), stdout=output, stderr=subprocess.STDOUT
        )
        try:
            yield
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=5)


def collect_static() -> None:
    """The production settings serve hashed static files from STATIC_ROOT, as the Docker image does.

    Collecting (and compressing the API docs' bundles) takes minutes on a busy machine, so it runs
    only when the project's assets or the requirements changed since the last time.
    """
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    sources = [ROOT / "requirements.txt", *(path for path in (ROOT / "static").rglob("*") if path.is_file())]
    if manifest.exists() and all(path.stat().st_mtime < manifest.stat().st_mtime for path in sources):
        return
    command = [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity=0"]
    subprocess.run(command, cwd=ROOT, env=app_environment(BROKER), check=True)


def locust_run(port: int, work: Path, traffic_env: dict[str, str]) -> None:
    """Locust's CLI in a child process, so gevent's monkey-patching stays out of this one."""
    command = [
        str(BIN / "locust"),
        f"--locustfile={LOCUSTFILE}",
        "--headless",
        f"--users={USERS}",
        f"--spawn-rate={SPAWN_RATE}",
        f"--run-time={DURATION}",
        f"--host=http://127.0.0.1:{port}",
        f"--csv={work / 'load'}",
        "--only-summary",
        "--stop-timeout=30",
        "--loglevel=WARNING",
    ]
    env = {**os.environ, **traffic_env, "LOAD_OUTCOMES_DIR": str(work)}
    with (work / "locust.log").open("w") as output:
        finished = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=duration_seconds(DURATION) + 120,
            check=False,
        )
    # Locust exits 1 when a request failed; those are read from its CSV files.
    if finished.returncode not in (0, 1):
        log = (work / "locust.log").read_text()[-3000:]
        raise BenchmarkFailed(f"locust exited with {finished.returncode}:\n{log}")


def duration_seconds(duration: str) -> float:
    parts = re.findall(r"(\d+)\s*([hms])", duration)
    if not parts or "".join(n + unit for n, unit in parts) != duration.replace(" ", ""):
        raise ValueError(f"LOAD_DURATION must look like 30s, 5m or 1h30m, not {duration!r}.")
    return float(sum(int(n) * {"h": 3600, "m": 60, "s": 1}[unit] for n, unit in parts))


def wait_for_drain(broker: redis.Redis) -> float:
    """Seconds until no task waits in the queue or runs on the worker (acks_late keeps running ones unacked)."""
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_TIMEOUT:
        if broker.llen("celery") == 0 and broker.hlen("unacked") == 0:
            return time.monotonic() - started
        time.sleep(0.5)
    return float("inf")


def read_stats(path: Path) -> list[EndpointStats]:
    with path.open() as stats:
        return [
            EndpointStats(
                name="total" if row["Name"] == "Aggregated" else row["Name"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                p50_ms=float(row["50%"] or 0),
                p95_ms=float(row["95%"] or 0),
                per_second=float(row["Requests/s"]),
            )
            for row in csv.DictReader(stats)
        ]


def read_failures(path: Path) -> list[tuple[str, str, int]]:
    with path.open() as failures:
        return [(row["Name"], row["Error"], int(row["Occurrences"])) for row in csv.DictReader(failures)]


def read_accepted_keys(work: Path) -> set[tuple[str, str]]:
    """(source_system, external_id) of every activity a 2xx answer accepted, from each locust process's file."""
    keys = set()
    for path in work.glob("accepted-*.txt"):
        for line in path.read_text().splitlines():
            source_system, external_id = line.split("\t")
            keys.add((source_system, external_id))
    return keys


def print_table(endpoints: list[EndpointStats], seconds: float) -> None:
    width = max(len(e.name) for e in endpoints)
    print(f"\n{'endpoint':<{width}}  {'requests':>8}  {'failures':>8}  {'p50 ms':>7}  {'p95 ms':>7}  {'req/s':>7}")
    for e in sorted(endpoints, key=lambda e: (e.name == "total", -e.requests)):
        print(
            f"{e.name:<{width}}  {e.requests:>8}  {e.failures:>8}  {e.p50_ms:>7.0f}  {e.p95_ms:>7.0f}  "
            f"{e.per_second:>7.1f}"
        )
    total = next(e for e in endpoints if e.name == "total")
    print(f"throughput: {total.per_second:.1f} requests/s over {seconds:.0f} s; errors: {total.failures}")


def reconcile(accepted: set[tuple[str, str]]) -> list[str]:
    """Every idempotency key a 2xx answer accepted is stored, and none twice."""
    sources = sorted({source for source, _ in accepted})
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE accepted_key (source_system text, external_id text)")
        cursor.executemany("INSERT INTO accepted_key VALUES (%s, %s)", sorted(accepted))
        cursor.execute("SELECT count(*) FROM accepted_key a JOIN leads_activity s USING (source_system, external_id)")
        stored = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM leads_activity WHERE source_system = ANY(%s)"
            " GROUP BY source_system, external_id HAVING count(*) > 1) AS twice",
            [sources],
        )
        duplicated = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT count(*) FROM leads_activity s WHERE source_system = ANY(%s) AND NOT EXISTS"
            " (SELECT 1 FROM accepted_key a WHERE (a.source_system, a.external_id) = (s.source_system, s.external_id))",
            [sources],
        )
        unacknowledged = int(cursor.fetchone()[0])
        cursor.execute("DROP TABLE accepted_key")
    print(
        f"reconciliation: {len(accepted):,} distinct keys accepted, {stored:,} stored, {duplicated} stored twice, "
        f"{unacknowledged} stored without a 2xx answer"
    )
    if stored != len(accepted) or duplicated:
        return [f"{len(accepted)} accepted keys but {stored} stored, {duplicated} stored twice"]
    return []


def classification_backlog(drain_seconds: float) -> list[str]:
    """Leads still waiting for classification once the worker has nothing left to do."""
    if drain_seconds == float("inf"):
        print(f"classification: the queue did not drain within {DRAIN_TIMEOUT:.0f} s")
        return [f"the Celery queue did not drain within {DRAIN_TIMEOUT:.0f} s"]
    pending = leads_pending_classification(requested_before=timezone.now())
    print(
        f"classification: queue drained in {drain_seconds:.1f} s; {pending.count()} leads still pending "
        "classification (the periodic sweep, not running here, classifies them within minutes)"
    )
    for pk, requested_at, classified_at in pending.values_list("pk", "classification_requested_at", "classified_at")[
        :5
    ]:
        classified = f"{classified_at:%H:%M:%S.%f}" if classified_at else "never"
        print(f"  lead {pk}: requested {requested_at:%H:%M:%S.%f}, classified {classified}")
    return []
