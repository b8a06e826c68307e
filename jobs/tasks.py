from celery import shared_task
from django.utils import timezone

from .services import jobs_resume_stalled


@shared_task(acks_late=True, reject_on_worker_lost=True)
def resume_stalled_jobs() -> list[int]:
    """Periodic: send again the task of every job whose worker died or whose message was lost."""
    return jobs_resume_stalled(now=timezone.now())
