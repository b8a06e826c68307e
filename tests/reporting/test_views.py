from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.services import lead_upsert, qualification_open
from opportunities.services import meeting_book, opportunity_lose, opportunity_qualify, opportunity_win
from tests.funnel_helpers import CRM, SYSTEM

PASSWORD = "a-long-test-password"
URL = reverse("reporting:dashboard")
COLUMNS = ("qls", "opportunities", "qos", "won")


@pytest.fixture
def analyst_client(client, make_user):
    make_user(username="analyst", role="analyst")
    assert client.login(username="analyst", password=PASSWORD)
    return client


def monday_of_this_week(zone: str) -> date:
    today = timezone.now().astimezone(ZoneInfo(zone)).date()
    return today - timedelta(days=today.weekday())


def label(monday: date) -> str:
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def at(monday: date, days: int, hour: int, zone: str = "UTC") -> datetime:
    return datetime.combine(monday + timedelta(days=days), time(hour), tzinfo=ZoneInfo(zone))


def ql(email: str, moment: datetime, bucket: str = "P1") -> None:
    lead, _ = lead_upsert(email=email, source="inbound", created_at=moment - timedelta(days=1))
    qualification_open(lead_id=lead.pk, qualified_at=moment, source="inbound", bucket=bucket, actor=SYSTEM)


def booked(email: str, moment: datetime) -> int:
    booking = meeting_book(email=email, actor=CRM, booked_at=moment, external_id=f"meeting-{email}")
    assert booking.opportunity is not None
    return booking.opportunity.pk


def weekly(response) -> dict[str, tuple[int, ...]]:
    return {row.label: tuple(cell.value for cell in row.cells) for row in response.context["week_rows"]}


def test_the_dashboard_counts_each_milestone_in_its_iso_week(analyst_client):
    this_week = monday_of_this_week("UTC")
    three_weeks_ago, last_week = this_week - timedelta(weeks=3), this_week - timedelta(weeks=1)
    ql("won@acme.example", at(three_weeks_ago, 1, 10))
    won = booked("won@acme.example", at(three_weeks_ago, 2, 15))
    opportunity_qualify(opportunity_id=won, actor=CRM, at=at(last_week, 0, 9))
    opportunity_win(opportunity_id=won, actor=CRM, at=at(last_week, 3, 16), amount=Decimal("9000"))
    ql("nurture@acme.example", at(three_weeks_ago, 3, 11))
    booked("walk-in@newco.example", at(last_week, 1, 12))
    ql("lost@acme.example", at(last_week, 2, 9))
    lost = booked("lost@acme.example", at(last_week, 2, 12))
    opportunity_qualify(opportunity_id=lost, actor=CRM, at=at(last_week, 4, 10))
    opportunity_lose(opportunity_id=lost, actor=CRM, at=at(last_week, 6, 23), reason="competitor")
    ql("too-old@acme.example", at(this_week - timedelta(weeks=12), 0, 8))

    response = analyst_client.get(URL)

    weeks = weekly(response)
    assert len(weeks) == 12
    assert list(weeks)[-1] == label(this_week)
    assert weeks[label(three_weeks_ago)] == (2, 1, 0, 0)
    assert weeks[label(last_week)] == (1, 2, 2, 1)
    assert sum(sum(counts) for counts in weeks.values()) == 9
    assert [tile.value for tile in response.context["tiles"]] == [1, 2, 2, 1]
    content = response.content.decode()
    assert label(last_week) in content
    assert "in progress" in content


def test_weeks_follow_the_report_time_zone(analyst_client, settings):
    settings.REPORT_TIME_ZONE = "Pacific/Auckland"
    local_monday = monday_of_this_week("Pacific/Auckland") - timedelta(weeks=2)
    sunday_evening_utc = datetime.combine(local_monday - timedelta(days=1), time(20), tzinfo=UTC)
    ql("late-sunday@acme.example", sunday_evening_utc)

    in_auckland = weekly(analyst_client.get(URL))
    settings.REPORT_TIME_ZONE = "UTC"
    in_utc = weekly(analyst_client.get(URL))

    week_before = local_monday - timedelta(weeks=1)
    assert in_auckland[label(local_monday)] == (1, 0, 0, 0)
    assert in_auckland[label(week_before)] == (0, 0, 0, 0)
    assert in_utc[label(week_before)] == (1, 0, 0, 0)
    assert in_utc[label(local_monday)] == (0, 0, 0, 0)


def test_tiles_compare_the_last_full_week_with_the_week_before(analyst_client):
    this_week = monday_of_this_week("UTC")
    last_week, week_before = this_week - timedelta(weeks=1), this_week - timedelta(weeks=2)
    ql("a@acme.example", at(week_before, 0, 9))
    ql("b@acme.example", at(last_week, 0, 9))
    ql("c@acme.example", at(last_week, 1, 9))
    ql("d@acme.example", at(last_week, 2, 9))

    response = analyst_client.get(URL)

    qls_tile = response.context["tiles"][0]
    assert qls_tile.value == 3
    assert qls_tile.change == f"Up 2 from 1 in {label(week_before)}"
    assert f'Last full week <span class="subtle">{label(last_week)}' in response.content.decode()


def test_an_empty_dashboard_says_so_and_promises_cohort_conversion(analyst_client):
    response = analyst_client.get(URL)

    content = response.content.decode()
    assert all(counts == (0, 0, 0, 0) for counts in weekly(response).values())
    assert "No funnel activity in these weeks yet" in content
    assert "Cohort conversion rates (QL → QO, QO → Won) by source and bucket appear here" in content


def test_the_dashboard_takes_a_fixed_number_of_queries(analyst_client, django_assert_max_num_queries):
    this_week = monday_of_this_week("UTC")
    for number in range(10):
        ql(f"lead{number}@acme.example", at(this_week - timedelta(weeks=number + 1), 1, 9))

    with django_assert_max_num_queries(7):
        analyst_client.get(URL)
