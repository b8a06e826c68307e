import pytest

from jobs.models import JobStatus
from jobs.services import job_advance, job_create, job_fail, job_start, job_succeed

pytestmark = pytest.mark.django_db


def test_a_job_reports_progress_then_its_result():
    job = job_create(kind="report_rebuild", parameters={"weeks": 52})
    assert (job.status, job.percent) == (JobStatus.QUEUED, None)

    job_start(job_id=job.pk, total=200, message="Rebuilding 52 weeks")
    job_advance(job_id=job.pk, by=50)
    job_advance(job_id=job.pk, by=50, message="Half way")
    job.refresh_from_db()
    assert (job.status, job.done, job.percent, job.message) == (JobStatus.RUNNING, 100, 50, "Half way")

    job_succeed(job_id=job.pk, result={"rows": 1234})
    job.refresh_from_db()
    assert job.is_finished
    assert job.result == {"rows": 1234}
    assert job.finished_at is not None


def test_a_redelivered_job_starts_counting_again():
    job = job_create(kind="publish")
    job_start(job_id=job.pk, total=10)
    job_advance(job_id=job.pk, by=7)

    job_start(job_id=job.pk, total=10)

    job.refresh_from_db()
    assert (job.done, job.status) == (0, JobStatus.RUNNING)


def test_a_failed_job_keeps_its_reason():
    job = job_create(kind="import")
    job_fail(job_id=job.pk, message="Line 3: not a date")
    job.refresh_from_db()
    assert (job.status, job.message, job.is_finished) == (JobStatus.FAILED, "Line 3: not a date", True)
