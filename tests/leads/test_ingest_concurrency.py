"""The same batch delivered by several clients at once is stored once, on PostgreSQL."""

import pytest

from leads.ingest import activities_record_batch
from leads.models import Account, Activity, Lead
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
