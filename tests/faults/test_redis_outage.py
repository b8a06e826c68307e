"""Redis, the Celery broker, goes down: requests that store data or start jobs still succeed quickly,
and once Redis is back the sweeps finish what could not be enqueued.

The fault test stops a private redis-server (never the shared one). The other tests point the
broker at a closed port; they need neither Redis nor PostgreSQL.
"""

import base64
import copy
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from access.services import user_issue_token
from integrations.models import ImportRun
from integrations.services import integration_create
from jobs.models import QUEUE_UNAVAILABLE_MESSAGE, Job, JobStatus
from jobs.services import STALLED_AFTER, job_create, job_set_task, jobs_resume_stalled
from jobs.tasks import resume_stalled_jobs
from leads.models import Account, Activity, Lead, Qualification, Ruleset
from leads.services import ruleset_create
from leads.tasks import SWEEP_GRACE, classify_pending_leads
from reporting.tasks import rebuild_weekly_report
from tests.integration.workers import wait_for
from tests.leads.test_scoring import DOCUMENT

from .services import PrivateRedis, Workers, broker_at, free_port, private_broker, workers_on

# Connection refused is immediate; this bounds retries and timeouts of the publish attempt.
QUICK = 2.0
CATCH_UP_TIMEOUT = 30.0
# A hung Redis accepts connections and answers nothing: the socket timeout ends each of two attempts.
HUNG_QUICK = 4.0
HUNG_DEADLINE = 10.0


@pytest.fixture
def broker_down() -> Iterator[None]:
    """The broker URL points at a port nothing listens on."""
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        yield


@pytest.fixture
def admin_api(make_user: Callable[..., User]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_issue_token(user=make_user('ingest', 'revops_admin'))}")
    return client


@pytest.fixture
def segment_api(transactional_db: None) -> APIClient:
    integration = integration_create(kind="segment", name="product")
    client = APIClient()
    credentials = base64.b64encode(f"{integration.secret}:".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {credentials}")
    return client


class TimedClient:
    """Posts through a test client and remembers how long the slowest request took."""

    def __init__(self) -> None:
        self.slowest = 0.0

    def post(self, client: APIClient, url: str, body: dict[str, Any]) -> Any:
        started = time.monotonic()
        response = client.post(url, body, format="json")
        self.slowest = max(self.slowest, time.monotonic() - started)
        assert 200 <= response.status_code < 300, (url, response.status_code, response.content[:500])
        return response


def activity(email: str, key: str, name: str = "Demo Request") -> dict[str, Any]:
    occurred_at = (timezone.now() - timedelta(hours=1)).isoformat()
    return {"email": email, "kind": "form", "name": name, "occurred_at": occurred_at, "source_system": "website",
            "external_id": key}  # fmt: skip


def run_with_deadline(call: Callable[[], object], *, deadline: float) -> bool:
    """Run ``call`` in a thread; False if it has not returned after ``deadline`` seconds."""

    def call_then_close_connections() -> None:
        try:
            call()
        finally:
            connections.close_all()

    thread = threading.Thread(target=call_then_close_connections, daemon=True)
    thread.start()
    thread.join(timeout=deadline)
    return not thread.is_alive()


def broker_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "funnel.celery"]


# ---------------------------------------------------------------- the broker at a closed port


@pytest.mark.django_db(transaction=True)
def test_an_activity_posted_while_the_broker_is_down_is_stored_and_waits_for_the_sweep(
    broker_down: None, admin_api: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    timed = TimedClient()
    with caplog.at_level(logging.WARNING, logger="funnel.celery"):
        response = timed.post(admin_api, "/api/v1/activities/", activity("ada@engines.example", "form-1"))

    assert response.status_code == 201
    assert timed.slowest < QUICK
    lead = Lead.objects.get(email="ada@engines.example")
    assert Activity.objects.filter(lead=lead, external_id="form-1").exists()
    assert lead.classification_requested_at is not None
    assert lead.classified_at is None
    assert len(broker_warnings(caplog)) == 1
    assert "1 lead waits for the classification sweep" in broker_warnings(caplog)[0]


@pytest.mark.django_db(transaction=True)
def test_a_publish_while_the_broker_is_down_is_accepted_and_says_the_queue_is_unavailable(
    broker_down: None, admin_api: APIClient, make_user: Callable[..., User]
) -> None:
    api_draft = ruleset_create(document=copy.deepcopy(DOCUMENT))
    page_draft = ruleset_create(document=copy.deepcopy(DOCUMENT))
    started = time.monotonic()
    response = admin_api.post(f"/api/v1/rulesets/{api_draft.pk}/publish/")
    page = Client()
    page.force_login(make_user("admin", "revops_admin"))
    redirect = page.post(f"/rules/{page_draft.pk}/publish/", follow=True)

    assert time.monotonic() - started < 2 * QUICK
    assert response.status_code == 202
    assert response.json()["status"] == JobStatus.QUEUED
    assert response.json()["message"] == QUEUE_UNAVAILABLE_MESSAGE
    assert redirect.status_code == 200
    assert QUEUE_UNAVAILABLE_MESSAGE in redirect.content.decode()
    assert Ruleset.objects.get(pk=page_draft.pk).status == "active"
    assert all(job.waits_for_queue for job in Job.objects.all())


@pytest.mark.django_db(transaction=True)
def test_a_report_rebuild_asked_for_while_the_broker_is_down_is_queued_with_a_warning(
    broker_down: None, make_user: Callable[..., User]
) -> None:
    analyst = make_user("ana", "analyst")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {user_issue_token(user=analyst)}")
    page = Client()
    page.force_login(analyst)

    response = api.post("/api/v1/reports/weekly/refresh/", {"from": "2026-W02", "to": "2026-W03"}, format="json")
    redirect = page.post("/dashboard/refresh/", {"from": "2026-W02", "to": "2026-W03"}, follow=True)

    assert response.status_code == 202
    assert response.json()["message"] == QUEUE_UNAVAILABLE_MESSAGE
    assert redirect.status_code == 200
    assert QUEUE_UNAVAILABLE_MESSAGE in redirect.content.decode()
    assert Job.objects.count() == 2
    assert all(job.waits_for_queue for job in Job.objects.all())


@pytest.mark.django_db(transaction=True)
def test_a_history_upload_while_the_broker_is_down_is_kept_and_queued_with_a_warning(
    broker_down: None, make_user: Callable[..., User], tmp_path: Path
) -> None:
    page = Client()
    page.force_login(make_user("admin", "revops_admin"))
    upload = tmp_path / "history.csv"
    upload.write_text("email,source\nada@engines.example,inbound\n")

    with upload.open("rb") as file:
        redirect = page.post("/integrations/import/", {"file": file}, follow=True)

    assert redirect.status_code == 200
    assert QUEUE_UNAVAILABLE_MESSAGE in redirect.content.decode()
    run = ImportRun.objects.select_related("job").get()
    assert run.job is not None
    assert run.job.waits_for_queue


# ---------------------------------------------------------------- the stalled-jobs sweep


def rebuild_job(*, heartbeat_age: timedelta, status: str = JobStatus.QUEUED) -> Job:
    job = job_create(kind="weekly_report_rebuild")
    job_set_task(job=job, task_name=rebuild_weekly_report.name, args=[job.pk, "2026-W02", "2026-W03"])
    Job.objects.filter(pk=job.pk).update(status=status, updated_at=timezone.now() - heartbeat_age)
    return job


@pytest.mark.django_db
def test_the_sweep_sends_again_only_jobs_whose_heartbeat_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(rebuild_weekly_report, "delay", lambda *args: sent.append(args))
    stale = STALLED_AFTER + timedelta(seconds=1)
    lost_while_queued = rebuild_job(heartbeat_age=stale)
    died_while_running = rebuild_job(heartbeat_age=stale, status=JobStatus.RUNNING)
    rebuild_job(heartbeat_age=STALLED_AFTER - timedelta(seconds=5), status=JobStatus.RUNNING)
    rebuild_job(heartbeat_age=stale, status=JobStatus.SUCCEEDED)
    waited_for_the_queue = rebuild_job(heartbeat_age=stale)
    Job.objects.filter(pk=waited_for_the_queue.pk).update(message=QUEUE_UNAVAILABLE_MESSAGE)

    resumed = jobs_resume_stalled(now=timezone.now())
    again = jobs_resume_stalled(now=timezone.now())

    assert resumed == [lost_while_queued.pk, died_while_running.pk, waited_for_the_queue.pk]
    assert sent == [
        (job.pk, "2026-W02", "2026-W03") for job in (lost_while_queued, died_while_running, waited_for_the_queue)
    ]
    assert again == [], "a job just sent again gets another STALLED_AFTER before the next attempt"
    waited_for_the_queue.refresh_from_db()
    assert not waited_for_the_queue.waits_for_queue


@pytest.mark.django_db
def test_the_sweep_leaves_a_job_queued_with_a_message_while_the_broker_is_down(broker_down: None) -> None:
    job = rebuild_job(heartbeat_age=STALLED_AFTER + timedelta(minutes=1))

    assert jobs_resume_stalled(now=timezone.now()) == []

    job.refresh_from_db()
    assert job.waits_for_queue


@pytest.mark.django_db
def test_a_task_delivered_again_for_a_finished_job_does_nothing() -> None:
    job = rebuild_job(heartbeat_age=timedelta(0), status=JobStatus.SUCCEEDED)

    assert rebuild_weekly_report(job.pk, "2026-W02", "2026-W03") == 0
    assert Job.objects.get(pk=job.pk).done == 0


def test_the_stalled_jobs_sweep_runs_more_often_than_a_job_may_stall() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["resume-stalled-jobs"]
    assert entry["task"] == resume_stalled_jobs.name
    assert entry["schedule"] == 60 < STALLED_AFTER.total_seconds()
    assert entry["options"] == {"expires": 50}


# ---------------------------------------------------------------- a real Redis stopped and started again


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    with private_broker(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def workers(redis_server: PrivateRedis, tmp_path: Path) -> Iterator[Workers]:
    with workers_on(redis_server, log_directory=tmp_path) as started:
        yield started


def pending_leads() -> set[str]:
    return set(Lead.objects.filter(classified_at__isnull=True).values_list("email", flat=True))


@pytest.mark.faults
@pytest.mark.django_db(transaction=True)
def test_ingestion_goes_on_while_redis_is_down_and_the_sweeps_catch_up_once_it_is_back(
    redis_server: PrivateRedis,
    workers: Workers,
    admin_api: APIClient,
    segment_api: APIClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    Account.objects.create(domain="engines.example", employee_count=200, industry="software")
    ruleset = ruleset_create(document=copy.deepcopy(DOCUMENT))
    redis_server.stop()
    timed = TimedClient()

    with caplog.at_level(logging.WARNING, logger="funnel.celery"):
        publish = timed.post(admin_api, f"/api/v1/rulesets/{ruleset.pk}/publish/", {})
        timed.post(admin_api, "/api/v1/leads/", {"email": "bob@engines.example", "title": "CTO"})
        timed.post(admin_api, "/api/v1/activities/", activity("ada@engines.example", "form-1"))
        batch = [activity(f"lead{n}@engines.example", f"batch-{n}") for n in range(5)]
        timed.post(admin_api, "/api/v1/activities/batch/", {"activities": batch})
        identify = {"userId": "u-1", "messageId": "identify-1", "traits": {"email": "cy@engines.example"}}
        timed.post(segment_api, "/segment/v1/identify", identify)
        track = {"userId": "u-1", "messageId": "track-1", "event": "Workspace Limit Reached", "properties": {}}
        timed.post(segment_api, "/segment/v1/track", track)

    assert timed.slowest < QUICK, f"the slowest request took {timed.slowest:.1f} s"
    assert publish.json()["message"] == QUEUE_UNAVAILABLE_MESSAGE
    emails = {"ada@engines.example", "bob@engines.example", "cy@engines.example"}
    emails |= {f"lead{n}@engines.example" for n in range(5)}
    assert pending_leads() == emails
    assert Activity.objects.count() == 7
    warnings = "\n".join(broker_warnings(caplog))
    assert "stays queued until the stalled-jobs sweep sends it again" in warnings
    assert "5 leads wait for the classification sweep" in warnings

    redis_server.start()
    workers.start()
    # Time passes: the periodic sweeps find the marks and the job the outage left behind.
    earlier = timezone.now() - max(SWEEP_GRACE, STALLED_AFTER) - timedelta(minutes=1)
    Lead.objects.update(classification_requested_at=earlier)
    Job.objects.update(updated_at=earlier)
    resume_stalled_jobs.delay()
    classify_pending_leads.delay()

    assert wait_for(lambda: not pending_leads(), timeout=CATCH_UP_TIMEOUT), workers.logs()
    assert wait_for(lambda: Job.objects.get().status == JobStatus.SUCCEEDED, timeout=CATCH_UP_TIMEOUT), workers.logs()
    assert set(Lead.objects.values_list("ruleset_version", flat=True)) == {ruleset.version}
    qualified = set(Qualification.objects.values_list("lead__email", flat=True))
    assert qualified == emails - {"bob@engines.example", "cy@engines.example"}


@pytest.mark.faults
@pytest.mark.django_db(transaction=True)
def test_an_activity_posted_while_redis_hangs_is_stored_within_the_broker_timeouts(
    redis_server: PrivateRedis, admin_api: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.hang()
    timed = TimedClient()
    with caplog.at_level(logging.WARNING, logger="funnel.celery"):
        finished = run_with_deadline(
            lambda: timed.post(admin_api, "/api/v1/activities/", activity("ada@engines.example", "form-1")),
            deadline=HUNG_DEADLINE,
        )

    assert finished, f"the request still waits for the hung Redis after {HUNG_DEADLINE} s"
    assert timed.slowest < HUNG_QUICK, f"the request took {timed.slowest:.1f} s"
    assert Activity.objects.filter(external_id="form-1").exists()
    assert "1 lead waits for the classification sweep" in "\n".join(broker_warnings(caplog))
