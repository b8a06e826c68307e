"""A Celery worker SIGKILLed in the middle of a job: a new worker and the stalled-jobs sweep finish it.

Redis would hand the killed task back only after its visibility timeout (20 minutes); PostgreSQL
holds the job and its progress, so ``jobs.tasks.resume_stalled_jobs`` sends the task again once
the job's heartbeat is older than ``STALLED_AFTER``. The tests move the heartbeat back instead
of waiting. A second database session holds a lock that the task needs, so the task is
reliably mid-way when the worker dies.
"""

import copy
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from jobs.models import Job, JobStatus
from jobs.services import STALLED_AFTER, jobs_resume_stalled
from jobs.tasks import resume_stalled_jobs
from leads.models import Account, Activity, Lead, Qualification, Ruleset
from leads.services import REEVALUATE_CHUNK, leads_classify, ruleset_create, ruleset_publish
from opportunities.choices import ReasonUse
from opportunities.models import ReasonCode
from reporting.models import WeeklyReportRow
from reporting.services import weekly_report_rebuild, weekly_report_rebuild_queue
from tests.integration.workers import wait_for
from tests.leads.test_scoring import DOCUMENT
from tests.reporting import funnel_fixture

from .services import HeldLock, Workers, kill, lock_held, private_broker, session_ended, workers_on

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

# Two chunks: the task is held in the second one, after the first one's progress is written.
LEADS = REEVALUATE_CHUNK + 200
OPEN_EPISODE_INSERT = """
    INSERT INTO leads_qualification (lead_id, stage, qualified_at, source, sub_source, bucket, explanation, recorded_at)
    VALUES (%s, 'open', now(), 'inbound', '', '', '{}', now())
"""
TASK_TIMEOUT = 30.0
REPORT_FIRST_MONDAY, REPORT_LAST_MONDAY = date(2025, 12, 29), date(2026, 2, 23)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    with private_broker(tmp_path / "redis") as server, workers_on(server, log_directory=tmp_path) as started:
        yield started


def block_then_kill(workers: Workers, lock: HeldLock) -> int:
    """Wait until the running task waits for ``lock``, SIGKILL its worker; returns the task's database session."""
    assert wait_for(lambda: bool(lock.blocked()), timeout=TASK_TIMEOUT), workers.logs()
    (task_session,) = lock.blocked()
    kill(workers.started[-1])
    return task_session


def resume_on_a_new_worker(workers: Workers, job_id: int) -> Job:
    """The stalled-jobs sweep, run by a new worker once the job's heartbeat is old enough."""
    assert jobs_resume_stalled(now=timezone.now()) == [], "a job with a recent heartbeat must be left alone"
    workers.start()
    Job.objects.filter(pk=job_id).update(updated_at=timezone.now() - STALLED_AFTER - timedelta(seconds=1))
    resume_stalled_jobs.delay()
    finished = wait_for(lambda: Job.objects.get(pk=job_id).is_finished, timeout=TASK_TIMEOUT)
    assert finished, workers.logs()
    return Job.objects.get(pk=job_id)


# ---------------------------------------------------------------- rules re-evaluation


def load_leads() -> None:
    """A third qualify (fit and a demo request), a third fit without intent, a third intent without fit."""
    fitting = Account.objects.create(domain="engines.example", employee_count=200, industry="software")
    small = Account.objects.create(domain="corner-shop.example", employee_count=10, industry="retail")
    leads = Lead.objects.bulk_create(
        Lead(email=f"lead{n}@{account.domain}", account=account, source="inbound")
        for n, account in ((n, small if n % 3 == 2 else fitting) for n in range(LEADS))
    )
    at = timezone.now() - timedelta(days=2)
    Activity.objects.bulk_create(
        Activity(
            lead=lead,
            kind="product" if n % 3 == 1 else "form",
            name="Pricing Page Viewed" if n % 3 == 1 else "Demo Request",
            properties={"plan": "free"} if n % 3 == 1 else {},
            occurred_at=at,
            source_system="faults",
            external_id=str(lead.pk),
        )
        for n, lead in enumerate(leads)
    )
    Lead.objects.update(classified_at=timezone.now())


def classification_outcome() -> dict[int, tuple[Any, ...]]:
    """Per lead: its stage, bucket, ruleset version and scores, and its episode if it has one."""
    episodes = {
        row[0]: row[1:]
        for row in Qualification.objects.values_list(
            "lead_id", "qualified_at", "source", "bucket", "ruleset_version", "fit_score", "intent_score"
        )
    }
    return {
        lead_id: (stage, bucket, version, fit, None if intent is None else round(intent, 2), episodes.get(lead_id))
        for lead_id, stage, bucket, version, fit, intent in Lead.objects.values_list(
            "pk", "stage", "bucket", "ruleset_version", "fit_score", "intent_score"
        )
    }


def outcome_of_a_direct_classification(ruleset: Ruleset) -> dict[int, tuple[Any, ...]]:
    """Publish and classify every lead in this process, then roll it all back."""
    with transaction.atomic():
        ruleset_publish(ruleset_id=ruleset.pk, actor_name="faults")
        leads_classify(lead_ids=list(Lead.objects.values_list("pk", flat=True)))
        outcome = classification_outcome()
        transaction.set_rollback(True)
    return outcome


def test_a_reevaluation_killed_mid_way_ends_complete_and_correct_on_a_new_worker(workers: Workers) -> None:
    load_leads()
    ruleset = ruleset_create(document=copy.deepcopy(DOCUMENT))
    expected = outcome_of_a_direct_classification(ruleset)
    assert {outcome[5] is not None for outcome in expected.values()} == {True, False}
    workers.start()
    qualifying_in_second_chunk = Lead.objects.get(email=f"lead{REEVALUATE_CHUNK + 1}@engines.example")

    # An uncommitted open episode of that lead: the task's episode insert waits on the unique index.
    with lock_held(OPEN_EPISODE_INSERT, [qualifying_in_second_chunk.pk]) as lock:
        job = ruleset_publish(ruleset_id=ruleset.pk, actor_name="faults")
        task_session = block_then_kill(workers, lock)
    assert wait_for(lambda: session_ended(task_session), timeout=TASK_TIMEOUT)

    killed = Job.objects.get(pk=job.pk)
    assert killed.status == JobStatus.RUNNING
    assert killed.total == LEADS
    assert 0 < killed.done < LEADS
    versions = set(Lead.objects.values_list("ruleset_version", flat=True))
    assert versions == {None, ruleset.version}, "some leads, not all, are re-evaluated when the worker dies"

    resumed = resume_on_a_new_worker(workers, job.pk)

    assert resumed.status == JobStatus.SUCCEEDED, resumed.message
    assert resumed.done == resumed.total == LEADS
    assert classification_outcome() == expected


# ---------------------------------------------------------------- report rebuild


def report_rows() -> list[dict[str, Any]]:
    fields = [field.name for field in WeeklyReportRow._meta.concrete_fields if field.name not in {"id", "as_of"}]
    fields.remove("built_at")
    return list(WeeklyReportRow.objects.order_by("time_zone", "week", "dimension", "slice").values(*fields))


def load_funnel() -> None:
    # A transactional test starts from empty tables, without the reason codes a migration adds.
    for code, use in (("competitor", ReasonUse.LOSE), ("not_icp", ReasonUse.BOTH)):
        ReasonCode.objects.get_or_create(code=code, defaults={"label": code, "used_for": use})
    funnel_fixture.build()


def test_a_report_rebuild_killed_mid_way_ends_complete_and_correct_on_a_new_worker(workers: Workers) -> None:
    load_funnel()
    workers.start()

    # The rebuild computes every dimension, then waits to replace the rows.
    with lock_held("LOCK TABLE reporting_weeklyreportrow IN SHARE MODE") as lock:
        job = weekly_report_rebuild_queue(first_monday=REPORT_FIRST_MONDAY, last_monday=REPORT_LAST_MONDAY)
        task_session = block_then_kill(workers, lock)
    assert wait_for(lambda: session_ended(task_session), timeout=TASK_TIMEOUT)

    killed = Job.objects.get(pk=job.pk)
    assert killed.status == JobStatus.RUNNING
    assert killed.total is not None
    assert 0 < killed.done < killed.total
    assert not WeeklyReportRow.objects.exists()

    resumed = resume_on_a_new_worker(workers, job.pk)

    assert resumed.status == JobStatus.SUCCEEDED, resumed.message
    assert resumed.done == resumed.total
    rebuilt_by_the_worker = report_rows()
    assert any(row["qls"] for row in rebuilt_by_the_worker)
    weekly_report_rebuild(first_monday=REPORT_FIRST_MONDAY, last_monday=REPORT_LAST_MONDAY)
    assert report_rows() == rebuilt_by_the_worker
