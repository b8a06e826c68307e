from celery import shared_task
from django.utils import timezone

from .services import import_run_execute, segment_pending_replay


@shared_task(acks_late=True, reject_on_worker_lost=True, max_retries=0)
def run_history_import(run_id: int) -> int:
    """Run an uploaded history import; safe to run twice (the import is idempotent)."""
    return import_run_execute(run_id=run_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def replay_pending_segment_events() -> int:
    """Periodic: apply kept Segment calls whose user was identified since they arrived."""
    return segment_pending_replay(now=timezone.now())
