"""PostgreSQL restarts under load: gunicorn answers clean 503s while it is down and recovers on its own.

Production settings on gunicorn (2 workers) against a private cluster; threads drive API reads and
writes, a page as a signed-in user and the probes while the cluster is stopped like a crash and
started again. Static files and the task queue are the only departures from production (see
``postgres_server.write_production_settings``).
"""

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from django.conf import settings

from .postgres_server import (
    Gunicorn,
    PrivatePostgres,
    gunicorn,
    migrate_and_create_admin,
    private_postgres,
    private_task_queue,
    production_environment,
    write_production_settings,
)

pytestmark = pytest.mark.faults

USERNAME, PASSWORD = "ops", "a-long-fault-test-password"
# A TLS-terminating proxy in front of gunicorn says so; production settings trust this header.
BEHIND_TLS = {"X-Forwarded-Proto": "https"}
SECONDS_UP_BEFORE, SECONDS_DOWN, RECOVERY_SECONDS, SECONDS_UP_AFTER = 1.5, 3.0, 3.0, 2.0
TRACEBACK = re.compile(r"Traceback \(most recent call last\)")


@dataclass
class Served:
    """A Funnel under production settings on a private cluster, with an admin's credentials."""

    database: PrivatePostgres
    web: Gunicorn
    token: str
    session_cookie: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with private_postgres() as database, private_task_queue(settings.REDIS_URL) as queue:
        write_production_settings(tmp_path, task_queue=queue)
        environment = production_environment(
            database_url=database.url, redis_url=settings.REDIS_URL, settings_directory=tmp_path
        )
        token = migrate_and_create_admin(username=USERNAME, password=PASSWORD, environment=environment)
        with gunicorn(environment=environment, log_path=tmp_path / "gunicorn.log") as web:
            yield Served(
                database=database,
                web=web,
                token=token,
                session_cookie=sign_in(web.base_url),
            )


def sign_in(base_url: str) -> str:
    """The login form, as a browser behind the proxy submits it; returns the session cookie.

    Production cookies are ``Secure``, which ``requests`` keeps from plain-HTTP requests, so the
    cookies are passed by hand.
    """
    form = requests.get(f"{base_url}/accounts/login/", headers=BEHIND_TLS, timeout=10)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert form.status_code == 200
    assert match is not None
    origin = "https://" + base_url.removeprefix("http://")
    signed_in = requests.post(
        f"{base_url}/accounts/login/",
        data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": match.group(1)},
        headers={
            **BEHIND_TLS,
            "Cookie": f"csrftoken={form.cookies['csrftoken']}",
            "Origin": origin,
            "Referer": f"{origin}/accounts/login/",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    return str(signed_in.cookies["sessionid"])


@dataclass(frozen=True)
class Answer:
    kind: str
    sent_at: float
    answered_at: float
    status: int
    body: str
    content_type: str
    retry_after: str | None
    external_id: str | None = None


@dataclass
class Load:
    """Threads that keep calling the server until told to stop, recording every answer."""

    served: Served
    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    writes: int = 0

    def run(self) -> list[threading.Thread]:
        web, token = self.served.web.base_url, self.served.token
        api = {"Authorization": f"Token {token}"}
        page = {**BEHIND_TLS, "Cookie": f"sessionid={self.served.session_cookie}"}
        callers: dict[str, Callable[[requests.Session], Answer]] = {
            "api_read": lambda http: self.call(http, "api_read", "GET", f"{web}/api/v1/leads/", headers=api),
            "api_write": lambda http: self.write(http, f"{web}/api/v1/activities/", api),
            "page": lambda http: self.call(http, "page", "GET", f"{web}/leads/", headers=page),
            "healthz": lambda http: self.call(http, "healthz", "GET", f"{web}/healthz"),
            "readyz": lambda http: self.call(http, "readyz", "GET", f"{web}/readyz"),
        }
        threads = [
            threading.Thread(target=self.keep_calling, args=(caller,), name=kind) for kind, caller in callers.items()
        ]
        for thread in threads:
            thread.start()
        return threads

    def keep_calling(self, caller: Callable[[requests.Session], Answer]) -> None:
        with requests.Session() as http:
            while not self.stopping.is_set():
                try:
                    answer = caller(http)
                except requests.RequestException as error:
                    with self.lock:
                        self.failures.append(f"{threading.current_thread().name}: {error!r}")
                    continue
                with self.lock:
                    self.answers.append(answer)
                time.sleep(0.05)

    def write(self, http: requests.Session, url: str, headers: dict[str, str]) -> Answer:
        with self.lock:
            self.writes += 1
            number = self.writes
        external_id = f"restart-{number}"
        body = {
            "email": f"load-{number % 7}@acme.example",
            "kind": "form",
            "name": "Demo Request",
            "source_system": "faults",
            "external_id": external_id,
        }
        return self.call(http, "api_write", "POST", url, headers=headers, json=body, external_id=external_id)

    def call(
        self,
        http: requests.Session,
        kind: str,
        method: str,
        url: str,
        *,
        external_id: str | None = None,
        **options: object,
    ) -> Answer:
        sent_at = time.monotonic()
        response = http.request(method, url, timeout=10, allow_redirects=False, **options)  # type: ignore[arg-type]
        return Answer(
            kind=kind,
            sent_at=sent_at,
            answered_at=time.monotonic(),
            status=response.status_code,
            body=response.text,
            content_type=response.headers.get("Content-Type", ""),
            retry_after=response.headers.get("Retry-After"),
            external_id=external_id,
        )


@dataclass(frozen=True)
class Timeline:
    stopped_at: float
    restarting_at: float
    restarted_at: float


def restart_under_load(served: Served) -> tuple[Load, Timeline]:
    load = Load(served)
    threads = load.run()
    try:
        time.sleep(SECONDS_UP_BEFORE)
        served.database.stop("immediate")
        stopped_at = time.monotonic()
        time.sleep(SECONDS_DOWN)
        restarting_at = time.monotonic()
        served.database.start()
        restarted_at = time.monotonic()
        time.sleep(RECOVERY_SECONDS + SECONDS_UP_AFTER)
    finally:
        load.stopping.set()
        for thread in threads:
            thread.join(timeout=15)
    return load, Timeline(stopped_at=stopped_at, restarting_at=restarting_at, restarted_at=restarted_at)


def acknowledged_write_counts(served: Served, external_ids: list[str]) -> dict[str, int]:
    with served.database.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT external_id, count(*) FROM leads_activity"
            " WHERE source_system = 'faults' AND external_id = ANY(%s) GROUP BY external_id",
            (external_ids,),
        )
        return {external_id: count for external_id, count in cursor.fetchall()}


KINDS = {"api_read", "api_write", "page", "healthz", "readyz"}


def test_a_database_restart_under_load_is_a_short_clean_outage(served: Served):
    load, timeline = restart_under_load(served)

    assert load.failures == [], "every request got an HTTP answer"
    assert {answer.kind for answer in load.answers} == KINDS
    assert_nothing_crashed(load.answers, served.web)
    assert_down_means_503(load.answers, timeline)
    assert_recovered_without_a_restart(load.answers, timeline, served.web)
    assert_acknowledged_writes_kept_once(load.answers, served)


def assert_nothing_crashed(answers: list[Answer], web: Gunicorn) -> None:
    assert [(a.kind, a.body[:300]) for a in answers if a.status == 500] == []
    assert [a.kind for a in answers if TRACEBACK.search(a.body)] == []
    assert TRACEBACK.findall(web.log()) == [], web.log()[-3000:]
    assert {a.status for a in answers if a.kind == "healthz"} == {200}, "liveness does not depend on the database"


def assert_down_means_503(answers: list[Answer], timeline: Timeline) -> None:
    while_down = [a for a in answers if timeline.stopped_at < a.sent_at and a.answered_at < timeline.restarting_at]
    assert {a.kind for a in while_down} == KINDS
    assert {a.status for a in while_down if a.kind != "healthz"} == {503}
    readiness = [json.loads(a.body) for a in while_down if a.kind == "readyz"]
    assert {r["checks"]["database"] for r in readiness} == {"down"}

    refused = [a for a in answers if a.status >= 400 and a.kind != "readyz"]
    assert {(a.status, a.retry_after) for a in refused} == {(503, "5")}
    for answer in refused:
        if answer.kind.startswith("api_"):
            assert answer.content_type == "application/json"
            assert json.loads(answer.body)["error"]["code"] == "database_unavailable"
        else:
            assert answer.content_type.startswith("text/html")
            assert "briefly unavailable" in answer.body
            assert len(answer.body) < 5000


def assert_recovered_without_a_restart(answers: list[Answer], timeline: Timeline, web: Gunicorn) -> None:
    after_recovery = [a for a in answers if a.sent_at > timeline.restarted_at + RECOVERY_SECONDS]
    assert {(a.kind, a.status) for a in after_recovery} == {
        ("api_read", 200),
        ("api_write", 201),
        ("page", 200),
        ("healthz", 200),
        ("readyz", 200),
    }
    assert web.process.poll() is None
    assert web.log().count("Booting worker") == 2, "no gunicorn worker was replaced"


def assert_acknowledged_writes_kept_once(answers: list[Answer], served: Served) -> None:
    acknowledged = [a.external_id for a in answers if a.kind == "api_write" and a.status == 201 and a.external_id]
    assert len(acknowledged) > 10
    assert acknowledged_write_counts(served, acknowledged) == dict.fromkeys(acknowledged, 1)
