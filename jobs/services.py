"""Job bookkeeping. Progress writes use UPDATE so a running task never overwrites a newer state.

Every write also sets ``updated_at``, the job's heartbeat: a queued or running job whose heartbeat
stopped for longer than ``STALLED_AFTER`` lost its task (a dead worker, a broker outage), and
``jobs_resume_stalled`` sends the task again. The tasks resume from what PostgreSQL holds.
"""

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from funnel.celery import send_unless_broker_down, task_named

from .models import QUEUE_UNAVAILABLE_MESSAGE, UNFINISHED, Job, JobStatus

# Longer than any step between two progress writes of a job's task.
STALLED_AFTER = timedelta(minutes=5)


def job_create(*, kind: str, parameters: dict[str, Any] | None = None, user: AbstractBaseUser | None = None) -> Job:
    return Job.objects.create(kind=kind, parameters=parameters or {}, created_by_id=user.pk if user else None)


def job_set_task(*, job: Job, task_name: str, args: list[Any]) -> None:
    """Name the task that does the job's work, so that a stalled job can be sent again."""
    job.task_name, job.task_args = task_name, args
    Job.objects.filter(pk=job.pk).update(task_name=task_name, task_args=args)


def job_enqueue_on_commit(*, job: Job, task_name: str, args: list[Any]) -> None:
    """Send the job's task once the current transaction commits (see ``job_enqueue``)."""
    job_set_task(job=job, task_name=task_name, args=args)
    transaction.on_commit(lambda: job_enqueue(job_id=job.pk))


def job_enqueue(*, job_id: int) -> bool:
    """Send the job's task. If the broker is down, the job stays queued with a message saying so
    (pages show it), and ``jobs_resume_stalled`` sends it again once the broker is back."""
    job = Job.objects.get(pk=job_id)
    task = task_named(job.task_name)
    consequence = f"{job.kind} job {job.pk} stays queued until the stalled-jobs sweep sends it again."
    waiting = Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED)
    if send_unless_broker_down(lambda: task.delay(*job.task_args), consequence=consequence):
        if job.waits_for_queue:
            waiting.filter(message=QUEUE_UNAVAILABLE_MESSAGE).update(message="")
        return True
    waiting.update(message=QUEUE_UNAVAILABLE_MESSAGE)
    return False


def jobs_resume_stalled(*, now: datetime, stalled_after: timedelta = STALLED_AFTER) -> list[int]:
    """Send again the task of every unfinished job without a heartbeat since ``now - stalled_after``.

    Each job is claimed by moving its heartbeat to ``now`` only if nobody moved it meanwhile, so
    two sweeps never send the same job twice and the next sweep waits another ``stalled_after``.
    """
    stalled = Job.objects.filter(status__in=UNFINISHED, updated_at__lt=now - stalled_after).exclude(task_name="")
    resumed = []
    for job in stalled.order_by("pk"):
        claimed = Job.objects.filter(pk=job.pk, status=job.status, updated_at=job.updated_at).update(updated_at=now)
        if claimed and job_enqueue(job_id=job.pk):
            resumed.append(job.pk)
    return resumed


def job_is_finished(*, job_id: int) -> bool:
    """True for a succeeded or failed job: a task delivered again for it has nothing left to do."""
    return Job.objects.filter(pk=job_id).exclude(status__in=UNFINISHED).exists()


def job_start(*, job_id: int, total: int | None = None, message: str = "") -> None:
    """Mark the job running. A redelivered task starts again from zero: its work is idempotent."""
    now = timezone.now()
    Job.objects.filter(pk=job_id).update(
        status=JobStatus.RUNNING, started_at=now, updated_at=now, finished_at=None, done=0, total=total, message=message
    )


def job_advance(*, job_id: int, by: int, message: str | None = None) -> None:
    changes: dict[str, Any] = {"done": F("done") + by, "updated_at": timezone.now()}
    if message is not None:
        changes["message"] = message[:500]
    Job.objects.filter(pk=job_id).update(**changes)


def job_succeed(*, job_id: int, result: dict[str, Any] | None = None, message: str = "Done.") -> None:
    now = timezone.now()
    Job.objects.filter(pk=job_id).update(
        status=JobStatus.SUCCEEDED, finished_at=now, updated_at=now, result=result or {}, message=message[:500]
    )


def job_fail(*, job_id: int, message: str) -> None:
    now = timezone.now()
    Job.objects.filter(pk=job_id).update(
        status=JobStatus.FAILED, finished_at=now, updated_at=now, message=message[:500]
    )
