from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)
QUEUE_UNAVAILABLE_MESSAGE = "Queued, but the worker queue is unavailable: the job starts once it is back."


class Job(models.Model):
    """Long work done in the background (a rules publish, a report rebuild, an import), with progress."""

    kind = models.CharField(max_length=50)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The task that does the job's work, sent again by jobs.tasks.resume_stalled_jobs if it is lost.
    task_name = models.CharField(max_length=200, blank=True)
    task_args = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The heartbeat: every state or progress write sets it.
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="job_status_valid"),
        ]
        indexes = [
            models.Index(fields=["kind", "status"], name="job_kind_status_idx"),
            models.Index(fields=["updated_at"], condition=Q(status__in=UNFINISHED), name="job_unfinished_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.done / self.total))

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    @property
    def waits_for_queue(self) -> bool:
        return self.status == JobStatus.QUEUED and self.message == QUEUE_UNAVAILABLE_MESSAGE
