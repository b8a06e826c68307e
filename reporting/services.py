"""Writes of the reporting app: rebuilding weekly report snapshots."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from jobs.models import Job
from jobs.services import job_advance, job_create, job_enqueue_on_commit, job_set_task, job_start, job_succeed

from .choices import REBUILD_JOB_KIND, Dimension
from .engine import compute_weekly_report
from .models import WeeklyReportRow
from .selectors import report_time_zone
from .stats import iso_week_label, mondays_between, week_monday

REBUILD_TASK = "reporting.tasks.rebuild_weekly_report"


@dataclass(frozen=True)
class RebuildResult:
    first_week: str
    last_week: str
    weeks: int
    rows: int
    as_of: datetime


def default_rebuild_range(*, now: datetime | None = None) -> tuple[date, date]:
    """The trailing REPORT_REBUILD_WEEKS weeks, up to and including the current one."""
    current = week_monday(now or timezone.now(), report_time_zone())
    return current - timedelta(weeks=settings.REPORT_REBUILD_WEEKS - 1), current


def weekly_report_rebuild(
    *, first_monday: date, last_monday: date, as_of: datetime | None = None, job_id: int | None = None
) -> RebuildResult:
    """Recompute the weeks ``first_monday``..``last_monday`` as of ``as_of`` (default now) and replace
    their snapshot rows in one transaction. Running it twice leaves the same rows."""
    tz = report_time_zone()
    as_of = as_of or timezone.now()
    dimensions = Dimension.values
    if job_id is not None:
        job_start(job_id=job_id, total=len(dimensions) + 1, message="Computing the weekly report.")
    rows: list[WeeklyReportRow] = []
    for dimension in dimensions:
        cells = compute_weekly_report(
            first_monday=first_monday, last_monday=last_monday, as_of=as_of, tz=tz, dimension=dimension
        )
        rows.extend(
            WeeklyReportRow(
                time_zone=tz.key,
                week=cell.week,
                dimension=cell.dimension,
                slice=cell.slice,
                as_of=as_of,
                **cell.counts,
                **cell.medians,
                **cell.distributions,
            )
            for cell in cells
        )
        if job_id is not None:
            job_advance(job_id=job_id, by=1, message=f"Computed the {Dimension(dimension).label.lower()} slices.")
    with transaction.atomic():
        WeeklyReportRow.objects.filter(time_zone=tz.key, week__gte=first_monday, week__lte=last_monday).delete()
        WeeklyReportRow.objects.bulk_create(rows, batch_size=1000)
    result = RebuildResult(
        first_week=iso_week_label(first_monday),
        last_week=iso_week_label(last_monday),
        weeks=len(mondays_between(first_monday, last_monday)),
        rows=len(rows),
        as_of=as_of,
    )
    if job_id is not None:
        job_advance(job_id=job_id, by=1)
        job_succeed(
            job_id=job_id,
            result={
                "first_week": result.first_week,
                "last_week": result.last_week,
                "rows": result.rows,
                "as_of": as_of.isoformat(),
            },
            message=f"Rebuilt {result.weeks} weeks ({result.first_week} to {result.last_week}).",
        )
    return result


def weekly_report_rebuild_job(
    *, first_monday: date, last_monday: date, trigger: str, user: AbstractBaseUser | AnonymousUser | None = None
) -> Job:
    """A job that tracks the rebuild of ``first_monday``..``last_monday``."""
    parameters = {"from": iso_week_label(first_monday), "to": iso_week_label(last_monday), "trigger": trigger}
    creator = user if isinstance(user, AbstractBaseUser) else None
    job = job_create(kind=REBUILD_JOB_KIND, parameters=parameters, user=creator)
    job_set_task(job=job, task_name=REBUILD_TASK, args=[job.pk, parameters["from"], parameters["to"]])
    return job


def weekly_report_rebuild_queue(
    *, first_monday: date, last_monday: date, user: AbstractBaseUser | AnonymousUser | None = None
) -> Job:
    """Queue a rebuild (the refresh button and endpoint); the task is sent once the job is committed."""
    with transaction.atomic():
        job = weekly_report_rebuild_job(
            first_monday=first_monday, last_monday=last_monday, trigger="request", user=user
        )
        job_enqueue_on_commit(job=job, task_name=job.task_name, args=job.task_args)
    return job
