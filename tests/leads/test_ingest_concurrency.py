"""The same batch delivered by several clients at once is stored once, on PostgreSQL."""

import pytest
from django.db import transaction

from leads.classification import request_classification
from leads.ingest import activities_record_batch
from leads.models import Account, Activity, Lead
from leads.services import leads_classify
from tests.leads.test_ingest import AT, activity
from tests.opportunities.test_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_deliveries_of_one_batch_store_each_activity_once():
    batch = [activity(n, f"p{n % 40}@company{n % 40 % 7}.example") for n in range(300)]

    results, errors = race([lambda: activities_record_batch(activities=batch, recorded_at=AT)] * 4)

    assert errors == []
    assert sum(outcome.created for outcome in results) == 300
    assert sum(outcome.duplicates for outcome in results) == 900
    assert Activity.objects.count() == 300
    assert Lead.objects.count() == 40
    assert Account.objects.count() == 7


def test_batches_marking_the_same_leads_in_any_order_while_they_are_classified_never_deadlock():
    leads = [Lead.objects.create(email=f"lead{n}@deadlock.example", source="inbound") for n in range(60)]
    ids = [lead.pk for lead in leads]

    def mark(order: list[int]) -> None:
        for _ in range(15):
            with transaction.atomic():
                request_classification(order)

    def classify() -> None:
        for _ in range(15):
            leads_classify(lead_ids=list(reversed(ids)))

    orders = [ids, list(reversed(ids)), ids[::2] + ids[1::2], ids[1::2] + ids[::2]]
    results, errors = race([*(lambda order=order: mark(order) for order in orders), classify, classify])

    assert errors == []
    assert len(results) == 6
