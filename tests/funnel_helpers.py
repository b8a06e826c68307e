"""Builders for funnel states, through the real services, at known past moments."""

from datetime import datetime, timedelta

from django.utils import timezone

from leads.models import Lead, Qualification, StageTransition
from leads.services import lead_upsert, qualification_open
from leads.transitions import Actor
from opportunities.models import Opportunity
from opportunities.services import meeting_book

CRM = Actor.integration("crm")
SYSTEM = Actor.system("classifier")


# One anchor for the whole run, so the same days_ago(n) is the same moment in every call.
ANCHOR = timezone.now().replace(microsecond=0)


def days_ago(days: float) -> datetime:
    return ANCHOR - timedelta(days=days)


def make_ql(email: str = "ada@acme.example", *, at: datetime | None = None, bucket: str = "P1") -> Qualification:
    lead, _ = lead_upsert(email=email, source="inbound", sub_source="google")
    return qualification_open(
        lead_id=lead.pk, qualified_at=at or days_ago(30), source="inbound", bucket=bucket, actor=SYSTEM
    )


def book(email: str = "ada@acme.example", *, at: datetime | None = None, external_id: str = "meeting-1") -> Opportunity:
    booking = meeting_book(email=email, actor=CRM, booked_at=at or days_ago(29), external_id=external_id)
    assert booking.opportunity is not None
    return booking.opportunity


def transitions(obj: Lead | Qualification | Opportunity) -> list[tuple[str, str]]:
    object_type = {Lead: "lead", Qualification: "episode", Opportunity: "opportunity"}[type(obj)]
    rows = StageTransition.objects.filter(object_type=object_type, object_id=obj.pk).order_by("id")
    return [(row.from_stage, row.to_stage) for row in rows]
