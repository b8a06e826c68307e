from celery import shared_task
from django.db import OperationalError

from funnel.celery import RETRIED_ON_DATABASE_ERRORS
from jobs.services import job_fail, job_is_finished

from .services import default_rebuild_range, weekly_report_rebuild, weekly_report_rebuild_job
from .stats import parse_iso_week


@shared_task(
    **RETRIED_ON_DATABASE_ERRORS,
    max_retries=3,
    soft_time_limit=10 * 60,
    time_limit=11 * 60,
)
def rebuild_weekly_report(job_id: int, first_week: str, last_week: str) -> int:
    """Rebuild the snapshot rows of ``first_week``..``last_week`` for a job; safe to run twice."""
    if job_is_finished(job_id=job_id):
        return 0
    try:
        result = weekly_report_rebuild(
            first_monday=parse_iso_week(first_week), last_monday=parse_iso_week(last_week), job_id=job_id
        )
    except OperationalError:
        raise
    except Exception as error:
        job_fail(job_id=job_id, message=f"The rebuild failed: {error}")
        raise
    return result.rows


@shared_task(acks_late=True, reject_on_worker_lost=True)
def rebuild_trailing_weeks() -> int:
    """The Monday rebuild: cohorts keep maturing, so every trailing week is recomputed, not only the last."""
    first, last = default_rebuild_range()
    job = weekly_report_rebuild_job(first_monday=first, last_monday=last, trigger="schedule")
    return weekly_report_rebuild(first_monday=first, last_monday=last, job_id=job.pk).rows
