from datetime import UTC, datetime, timedelta

import pytest

from leads.ingest import ActivityInput, activities_record_batch
from leads.models import Account, Activity, FreeMailDomain, Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def activity(n: int, email: str = "ada@acme.example", **overrides) -> ActivityInput:
    values = {
        "email": email,
        "kind": "product",
        "name": "Workspace Limit Reached",
        "occurred_at": AT + timedelta(minutes=n),
        "source_system": "app",
        "external_id": f"evt-{n}",
        "properties": {"plan": "free", "n": n},
    }
    return ActivityInput(**{**values, **overrides})


def test_a_batch_stores_each_activity_and_creates_unknown_leads_with_their_first_touch():
    known = LeadFactory(email="known@acme.example", source="inbound")
    batch = [
        activity(3, "new@beta.example", kind="chat", name="Chat Started"),
        activity(1, "new@beta.example", kind="form", name="Demo Request"),
        activity(2, "known@acme.example"),
    ]

    outcome = activities_record_batch(activities=batch, recorded_at=AT)

    assert (outcome.created, outcome.duplicates) == (3, 0)
    new = Lead.objects.get(email="new@beta.example")
    assert new.source == "inbound"
    assert new.created_at == AT + timedelta(minutes=1)
    assert new.account == Account.objects.get(domain="beta.example")
    assert Lead.objects.get(pk=known.pk).source == "inbound"
    stored = Activity.objects.get(source_system="app", external_id="evt-2")
    assert (stored.lead_id, stored.kind, stored.properties, stored.occurred_at) == (
        known.pk,
        "product",
        {"plan": "free", "n": 2},
        AT + timedelta(minutes=2),
    )


def test_sending_a_batch_twice_changes_nothing():
    batch = [activity(n, f"p{n % 3}@acme.example") for n in range(10)]
    activities_record_batch(activities=batch, recorded_at=AT)
    before = list(Activity.objects.order_by("pk").values())

    outcome = activities_record_batch(activities=batch, recorded_at=AT + timedelta(hours=1))

    assert (outcome.created, outcome.duplicates) == (0, 10)
    assert list(Activity.objects.order_by("pk").values()) == before
    assert Lead.objects.count() == 3


def test_a_key_repeated_inside_one_batch_is_stored_once():
    outcome = activities_record_batch(activities=[activity(1), activity(1, name="Other")], recorded_at=AT)

    assert (outcome.created, outcome.duplicates) == (1, 1)
    assert Activity.objects.get().name == "Workspace Limit Reached"


def test_free_mail_leads_get_no_account():
    FreeMailDomain.objects.get_or_create(domain="gmail.com")

    activities_record_batch(activities=[activity(1, "someone@gmail.com")], recorded_at=AT)

    assert Lead.objects.get(email="someone@gmail.com").account is None
    assert not Account.objects.filter(domain="gmail.com").exists()


def test_new_activities_queue_their_leads_for_classification_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        activities_record_batch(activities=[activity(1), activity(2, "bob@beta.example")], recorded_at=AT)

    assert len(callbacks) == 1
    assert sorted(callbacks[0].lead_ids) == sorted(Lead.objects.values_list("pk", flat=True))
    assert Lead.objects.filter(classification_requested_at__isnull=True).count() == 0


def test_a_redelivered_batch_queues_no_classification(django_capture_on_commit_callbacks):
    activities_record_batch(activities=[activity(1)], recorded_at=AT)

    with django_capture_on_commit_callbacks() as callbacks:
        activities_record_batch(activities=[activity(1)], recorded_at=AT)

    assert callbacks == []
