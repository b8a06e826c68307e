"""Job bookkeeping. Progress writes use UPDATE so a running task never overwrites a newer state."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F
from django.utils import timezone

from .models import Job, JobStatus


def job_create(*, kind: str, parameters: dict[str, Any] | None = None, user: AbstractBaseUser | None = None) -> Job:
    return Job.objects.create(kind=kind, parameters=parameters or {}, created_by_id=user.pk if user else None)


def job_start(*, job_id: int, total: int | None = None, message: str = "") -> None:
    """Mark the job running. A redelivered task starts again from zero: its work is idempotent."""
    Job.objects.filter(pk=job_id).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), finished_at=None, done=0, total=total, message=message
    )


def job_advance(*, job_id: int, by: int, message: str | None = None) -> None:
    changes: dict[str, Any] = {"done": F("done") + by}
    if message is not None:
        changes["message"] = message[:500]
    Job.objects.filter(pk=job_id).update(**changes)


def job_succeed(*, job_id: int, result: dict[str, Any] | None = None, message: str = "Done.") -> None:
    Job.objects.filter(pk=job_id).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now(), result=result or {}, message=message[:500]
    )


def job_fail(*, job_id: int, message: str) -> None:
    Job.objects.filter(pk=job_id).update(status=JobStatus.FAILED, finished_at=timezone.now(), message=message[:500])
