"""Every transition service end to end: qualify a lead, book a meeting, confirm the QO, win it."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from leads.services import lead_upsert, qualification_open
from leads.transitions import Actor
from opportunities.services import meeting_book, opportunity_qualify, opportunity_win

from .harness import Timings

CRM = Actor.integration("bench")
STEPS = ("lead_upsert", "qualification_open", "meeting_book", "opportunity_qualify", "opportunity_win")


def run(*, leads: int = 2000) -> list[Timings]:
    timings = {step: Timings(step) for step in STEPS}
    start = timezone.now() - timedelta(days=60)
    for n in range(leads):
        walk_one_lead(n, start + timedelta(minutes=n), timings)
    return list(timings.values())


def walk_one_lead(n: int, moment: datetime, timings: dict[str, Timings]) -> None:
    email = f"bench{n}@company{n % 500}.example"
    with timings["lead_upsert"].measure():
        lead, _ = lead_upsert(email=email, source="inbound")
    with timings["qualification_open"].measure():
        qualification_open(lead_id=lead.pk, qualified_at=moment, source="inbound", bucket="P1", actor=CRM)
    with timings["meeting_book"].measure():
        booking = meeting_book(email=email, actor=CRM, booked_at=moment + timedelta(hours=1), external_id=f"m{n}")
    assert booking.opportunity is not None
    with timings["opportunity_qualify"].measure():
        opportunity_qualify(opportunity_id=booking.opportunity.pk, actor=CRM, at=moment + timedelta(days=2))
    with timings["opportunity_win"].measure():
        opportunity_win(
            opportunity_id=booking.opportunity.pk, actor=CRM, at=moment + timedelta(days=20), amount=Decimal(1000)
        )
