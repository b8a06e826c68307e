"""Invariants the database itself enforces, whatever code writes to it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.utils import DatabaseError

from leads.models import Account, Activity, Lead, Qualification, StageTransition
from opportunities.models import Opportunity
from tests.factories import ActivityFactory, LeadFactory
from tests.funnel_helpers import book, make_ql

pytestmark = pytest.mark.django_db
T = datetime(2026, 2, 2, 10, 0, tzinfo=UTC)


def refused(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_lead_emails_are_unique():
    LeadFactory(email="ada@acme.example")
    refused(lambda: LeadFactory(email="ada@acme.example"))


def test_lead_emails_are_stored_normalised():
    refused(lambda: LeadFactory(email="Ada@Acme.example"))
    refused(lambda: LeadFactory(email=" ada@acme.example"))


def test_account_domains_are_unique_and_normalised():
    Account.objects.create(domain="acme.example")
    refused(lambda: Account.objects.create(domain="acme.example"))
    refused(lambda: Account.objects.create(domain="ACME.example"))
    refused(lambda: Account.objects.create(domain="www.acme.example"))


def test_activities_are_unique_per_idempotency_key():
    ActivityFactory(source_system="segment", external_id="m-1")
    refused(lambda: ActivityFactory(source_system="segment", external_id="m-1"))
    ActivityFactory(source_system="hubspot", external_id="m-1")
    assert Activity.objects.count() == 2


def test_a_lead_has_at_most_one_open_episode():
    episode = make_ql()
    refused(lambda: Qualification.objects.create(lead_id=episode.lead_id, qualified_at=T, source="chat"))
    Qualification.objects.create(
        lead_id=episode.lead_id, qualified_at=T, source="chat", stage="recycled", ended_at=T + timedelta(days=1)
    )


def test_an_episode_is_open_exactly_when_it_has_no_end():
    lead = LeadFactory()
    refused(lambda: Qualification.objects.create(lead=lead, qualified_at=T, source="chat", stage="won"))
    refused(lambda: Qualification.objects.create(lead=lead, qualified_at=T, source="chat", ended_at=T))
    refused(
        lambda: Qualification.objects.create(
            lead=lead, qualified_at=T, source="chat", stage="lost", ended_at=T - timedelta(days=1)
        )
    )


def test_a_lead_has_at_most_one_open_opportunity():
    make_ql()
    opportunity = book()
    refused(lambda: Opportunity.objects.create(lead_id=opportunity.lead_id, created_at=T))
    refused(
        lambda: Opportunity.objects.create(lead_id=opportunity.lead_id, created_at=T, stage="qualified", qualified_at=T)
    )
    Opportunity.objects.create(lead_id=opportunity.lead_id, created_at=T, stage="disqualified", closed_at=T)


@pytest.mark.parametrize(
    "fields",
    [
        {"stage": "negotiation"},
        {"stage": "qualified"},
        {"stage": "won", "closed_at": T},
        {"stage": "lost", "qualified_at": T},
        {"stage": "open", "closed_at": T},
        {"stage": "open", "qualified_at": T},
        {"stage": "disqualified"},
        {"stage": "qualified", "qualified_at": T - timedelta(days=1)},
        {"stage": "won", "qualified_at": T + timedelta(days=2), "closed_at": T + timedelta(days=1)},
        {"stage": "lost", "qualified_at": T, "closed_at": T, "amount": 10},
    ],
)
def test_opportunity_stages_and_milestones_must_agree(fields):
    lead = LeadFactory()
    refused(lambda: Opportunity.objects.create(lead=lead, created_at=T, **fields))


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (Lead, {"email": "x@acme.example", "stage": "prospect"}),
        (Lead, {"email": "x@acme.example", "source": "billboard"}),
        (Qualification, {"qualified_at": T, "source": "inbound", "stage": "paused"}),
        (Activity, {"kind": "fax", "name": "x", "occurred_at": T, "source_system": "s", "external_id": "1"}),
    ],
)
def test_stage_and_kind_values_are_checked(model, fields):
    if model is not Lead:
        fields = {"lead": LeadFactory(), **fields}
    refused(lambda: model.objects.create(**fields))


def test_the_transition_log_cannot_be_updated():
    make_ql()
    row = StageTransition.objects.first()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StageTransition.objects.filter(pk=row.pk).update(to_stage="won")
    assert StageTransition.objects.get(pk=row.pk).to_stage == row.to_stage


@pytest.mark.postgres
def test_the_transition_log_cannot_be_deleted_from_in_postgresql():
    make_ql()
    row = StageTransition.objects.first()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StageTransition.objects.filter(pk=row.pk).delete()
    assert StageTransition.objects.filter(pk=row.pk).exists()
