"""Classification through a real Celery worker on Redis, against the PostgreSQL test database.

Needs DATABASE_URL=postgres://... and REDIS_URL=redis://... in the environment before pytest
starts (`.ci/run` exports both); without them these tests skip locally and fail in CI.
"""

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from leads.models import Lead
from leads.services import activity_record
from leads.tasks import SWEEP_GRACE, classify_pending_leads
from tests.factories import LeadFactory

from .workers import LiveWorker, Published, wait_for

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

CLASSIFIED_TIMEOUT = 30.0


def classified(lead_id: int) -> bool:
    return Lead.objects.filter(pk=lead_id, classified_at__isnull=False).exists()


def test_an_activity_is_classified_by_the_worker_after_commit(
    live_worker: LiveWorker, published: list[Published]
) -> None:
    with transaction.atomic():
        activity, created = activity_record(
            email="ada@analytical-engines.example",
            kind="form",
            name="Demo Request",
            source_system="integration-test",
            external_id=uuid.uuid4().hex,
        )
        lead = Lead.objects.get(pk=activity.lead_id)
        assert created
        assert lead.classification_requested_at is not None
        assert published == [], "nothing may reach the broker before the transaction commits"

    assert [(message.task, message.routing_key) for message in published] == [
        ("leads.tasks.classify_leads", live_worker.queue)
    ], "the commit must enqueue exactly one classification task, on the worker's queue"
    (lead_ids,) = published[0].args
    assert lead.pk in lead_ids

    assert wait_for(lambda: classified(lead.pk), timeout=CLASSIFIED_TIMEOUT), "the worker never classified the lead"
    lead.refresh_from_db()
    assert lead.classified_at is not None
    assert lead.classification_requested_at is not None
    assert lead.classified_at >= lead.classification_requested_at


def test_the_sweep_on_the_worker_classifies_a_lead_whose_task_was_lost(
    live_worker: LiveWorker, published: list[Published]
) -> None:
    now = timezone.now()
    lost = LeadFactory.create(classification_requested_at=now - SWEEP_GRACE - timedelta(minutes=5))
    in_flight = LeadFactory.create(classification_requested_at=now)

    classify_pending_leads.delay()

    assert [(message.task, message.routing_key) for message in published] == [
        ("leads.tasks.classify_pending_leads", live_worker.queue)
    ]
    assert wait_for(lambda: classified(lost.pk), timeout=CLASSIFIED_TIMEOUT), "the sweep never classified the lead"
    # The sweep enqueues one batch, so once the lost lead is classified the sweep's work is done:
    # a request younger than the grace period is left to the task that is still on its way.
    in_flight.refresh_from_db()
    assert in_flight.classified_at is None
