"""A worker killed in the middle of a publish's re-evaluation: once a worker runs again, no lead is left out.

Needs DATABASE_URL=postgres://... and REDIS_URL=redis://... (see tests/integration/).
"""

import copy
import os
import signal
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from funnel.celery import app as celery_app
from jobs.models import Job
from leads.models import Account, Activity, Lead, Qualification
from leads.selectors import leads_pending_classification
from leads.services import ruleset_create, ruleset_publish
from leads.tasks import SWEEP_GRACE, classify_pending_leads
from tests.conftest import redis_available, require_service
from tests.integration.workers import LiveWorker, wait_for
from tests.leads.test_scoring import DOCUMENT

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
LEADS = 6000


@pytest.fixture
def worker_factory(tmp_path) -> Iterator[object]:
    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL=postgres://...)")
    require_service(redis_available(), "Redis (REDIS_URL=redis://...)")
    started: list[LiveWorker] = []
    default_queue = celery_app.conf.task_default_queue

    def start() -> LiveWorker:
        worker = LiveWorker.start(log_path=tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        celery_app.conf.task_default_queue = worker.queue
        assert worker.wait_until_ready(), worker.log()
        return worker

    try:
        yield start
    finally:
        celery_app.conf.task_default_queue = default_queue
        for worker in started:
            worker.stop()


def load_leads() -> None:
    account = Account.objects.create(domain="engines.example", employee_count=300, industry="software")
    Lead.objects.bulk_create(
        Lead(email=f"lead{n}@engines.example", account=account, source="inbound") for n in range(LEADS)
    )
    at = timezone.now() - timedelta(days=2)
    Activity.objects.bulk_create(
        Activity(
            lead=lead, kind="form", name="Demo Request", occurred_at=at, source_system="t", external_id=str(lead.pk)
        )
        for lead in Lead.objects.all()
    )
    Lead.objects.update(classified_at=timezone.now())


def test_a_killed_worker_leaves_no_lead_unclassified_once_a_worker_runs_again(worker_factory):
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    load_leads()
    first = worker_factory()
    ruleset = ruleset_create(document=copy.deepcopy(DOCUMENT))

    job = ruleset_publish(ruleset_id=ruleset.pk, actor_name="test")

    def under_way() -> bool:
        current = Job.objects.get(pk=job.pk)
        return current.status == "running" and current.done > 0

    assert wait_for(under_way, timeout=60, interval=0.05), first.log()
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    stopped = Job.objects.get(pk=job.pk)
    assert stopped.done < LEADS, "the re-evaluation finished before the worker was killed"
    assert leads_pending_classification(requested_before=timezone.now()).exists()

    worker_factory()
    # Time passes: the periodic sweep finds the marks the lost task left behind.
    pending = leads_pending_classification(requested_before=timezone.now())
    earlier = timezone.now() - SWEEP_GRACE - timedelta(minutes=1)
    assert pending.update(classification_requested_at=earlier, classified_at=earlier - timedelta(minutes=1)) > 0
    classify_pending_leads.delay()

    assert wait_for(lambda: not leads_pending_classification(requested_before=timezone.now()).exists(), timeout=120), (
        "the sweep on the new worker did not classify every lead"
    )
    assert Qualification.objects.count() == LEADS
    assert not Qualification.objects.values("lead").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert set(Qualification.objects.values_list("ruleset_version", flat=True)) == {ruleset.version}
