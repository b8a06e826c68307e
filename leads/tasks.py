from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from funnel.celery import RETRIED_ON_DATABASE_ERRORS

from .selectors import leads_pending_classification
from .services import leads_classify, qualifications_recycle_due, ruleset_reevaluate

SWEEP_BATCH_SIZE = 500
# A request younger than this is probably still on its way through the queue.
SWEEP_GRACE = timedelta(minutes=2)


@shared_task(
    **RETRIED_ON_DATABASE_ERRORS,
    max_retries=5,
)
def classify_leads(lead_ids: list[int]) -> int:
    return leads_classify(lead_ids=lead_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def classify_pending_leads() -> int:
    """Re-enqueue classification for every lead whose run was lost (broker down, worker killed)."""
    pending = leads_pending_classification(requested_before=timezone.now() - SWEEP_GRACE)
    ids = list(pending.values_list("pk", flat=True))
    for start in range(0, len(ids), SWEEP_BATCH_SIZE):
        classify_leads.delay(ids[start : start + SWEEP_BATCH_SIZE])
    return len(ids)


@shared_task(
    **RETRIED_ON_DATABASE_ERRORS,
    max_retries=5,
)
def reevaluate_after_publish(job_id: int) -> int:
    """Re-evaluate the leads a rules publish marked; redelivered after a crash, it resumes from the marks."""
    return ruleset_reevaluate(job_id=job_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def recycle_due_episodes() -> int:
    """End episodes that waited longer than the ruleset's ``recycle_after_days`` without an opportunity."""
    return qualifications_recycle_due()
