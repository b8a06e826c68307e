from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.errors import InvalidEffectiveTime
from leads.models import Activity, Lead
from leads.services import qualification_open
from opportunities.models import Opportunity
from opportunities.services import (
    meeting_book,
    opportunity_disqualify,
    opportunity_lose,
    opportunity_qualify,
    opportunity_win,
)
from tests.funnel_helpers import CRM, SYSTEM, book, days_ago, make_ql, transitions

pytestmark = pytest.mark.django_db


def test_booking_opens_an_opportunity_at_the_booking_time_linked_to_the_open_episode():
    episode = make_ql(at=days_ago(30))
    booked_at = days_ago(29)

    booking = meeting_book(
        email="Ada@Acme.example ", actor=CRM, booked_at=booked_at, scheduled_for=days_ago(25), external_id="cal-1"
    )

    opportunity = booking.opportunity
    assert booking.created is True
    assert opportunity.created_at == booked_at
    assert opportunity.scheduled_for == days_ago(25)
    assert opportunity.qualification == episode
    assert booking.activity.kind == "meeting"
    assert booking.activity.occurred_at == booked_at
    assert transitions(opportunity) == [("", "open")]
    assert Lead.objects.get(pk=episode.lead_id).stage == "opportunity"


def test_a_meeting_from_a_lead_that_is_not_a_ql_makes_an_unqualified_opportunity():
    booking = meeting_book(email="walk-in@newco.example", actor=CRM, booked_at=days_ago(3), external_id="cal-2")

    lead = Lead.objects.get(email="walk-in@newco.example")
    assert booking.created is True
    assert booking.opportunity.qualification is None
    assert lead.source == "inbound"
    assert lead.stage == "opportunity"


def test_booking_while_an_opportunity_is_open_only_records_the_activity():
    make_ql()
    first = book(external_id="cal-1")

    again = meeting_book(email="ada@acme.example", actor=CRM, booked_at=days_ago(20), external_id="cal-2")

    assert again.created is False
    assert again.opportunity == first
    assert Opportunity.objects.count() == 1
    assert Activity.objects.filter(kind="meeting").count() == 2


def test_a_redelivered_booking_changes_nothing():
    make_ql()
    first = meeting_book(email="ada@acme.example", actor=CRM, booked_at=days_ago(29), external_id="cal-1")

    again = meeting_book(email="ada@acme.example", actor=CRM, booked_at=days_ago(29), external_id="cal-1")

    assert (again.created, again.opportunity) == (False, first.opportunity)
    assert Activity.objects.count() == 1
    assert Opportunity.objects.count() == 1


def test_a_customer_booking_a_meeting_gets_the_activity_and_nothing_else():
    make_ql()
    opportunity = book()
    opportunity_win(opportunity_id=opportunity.pk, actor=CRM, at=days_ago(10), amount=Decimal(100))

    booking = meeting_book(email="ada@acme.example", actor=CRM, booked_at=days_ago(2), external_id="cal-9")

    assert (booking.created, booking.opportunity) == (False, None)
    assert Opportunity.objects.count() == 1
    assert Activity.objects.filter(external_id="cal-9").exists()


def test_a_booking_in_the_future_is_refused():
    with pytest.raises(InvalidEffectiveTime, match="future"):
        meeting_book(email="ada@acme.example", actor=CRM, booked_at=timezone.now() + timedelta(days=1))
    assert not Lead.objects.exists()


def test_a_lead_qualifies_again_after_a_disqualified_opportunity():
    first = make_ql(at=days_ago(60))
    opportunity = book(at=days_ago(59))
    opportunity_disqualify(opportunity_id=opportunity.pk, actor=CRM, reason="timing", at=days_ago(50))

    second = qualification_open(
        lead_id=first.lead_id, qualified_at=days_ago(10), source="product", bucket="P2", actor=SYSTEM
    )
    booking = meeting_book(email="ada@acme.example", actor=CRM, booked_at=days_ago(9), external_id="cal-2")

    first.refresh_from_db()
    assert (first.stage, first.ended_at) == ("disqualified", days_ago(50))
    assert (second.stage, second.source, second.bucket) == ("open", "product", "P2")
    assert booking.opportunity.qualification == second
    lead_stages = transitions(Lead.objects.get(pk=first.lead_id))
    assert lead_stages == [
        ("new", "ql"),
        ("ql", "opportunity"),
        ("opportunity", "recycled"),
        ("recycled", "ql"),
        ("ql", "opportunity"),
    ]


def test_an_unqualified_opportunity_closing_leaves_a_later_episode_open():
    opportunity = meeting_book(email="ada@acme.example", actor=CRM, booked_at=days_ago(20), external_id="cal-1")
    episode = qualification_open(
        lead_id=opportunity.opportunity.lead_id, qualified_at=days_ago(15), source="chat", actor=SYSTEM
    )
    opportunity_qualify(opportunity_id=opportunity.opportunity.pk, actor=CRM, at=days_ago(14))

    opportunity_lose(opportunity_id=opportunity.opportunity.pk, actor=CRM, reason="no_budget", at=days_ago(5))

    episode.refresh_from_db()
    assert episode.stage == "open"
    assert Lead.objects.get(pk=episode.lead_id).stage == "ql"


def test_a_late_delivered_booking_from_before_the_episode_is_unqualified():
    episode = make_ql(at=days_ago(10))

    booking = meeting_book(email="ada@acme.example", actor=CRM, booked_at=days_ago(12), external_id="late-1")

    assert booking.opportunity.qualification is None
    episode.refresh_from_db()
    assert episode.stage == "open"
