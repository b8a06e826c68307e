from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Ruleset
from opportunities.models import Opportunity
from tests.funnel_helpers import book, days_ago, make_ql

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"
RULES = {
    "name": "ICP",
    "fit_threshold": 0,
    "intent_threshold": 1,
    "fit_rules": [],
    "intent_rules": [{"label": "Demo", "kind": "form", "points": 10}],
    "buckets": [
        {"key": "P1", "label": "High touch", "experience": "AE calls", "sla_hours": 1, "min_fit": 60},
        {"key": "P2", "label": "Assist", "experience": "SDR", "sla_hours": 24, "min_fit": 40},
        {"key": "P3", "label": "Low touch", "experience": "Sequence", "sla_hours": 72},
    ],
}


@pytest.fixture
def rules() -> Ruleset:
    return Ruleset.objects.create(version=1, name="ICP", status="active", document=RULES)


def booked(name: str, bucket: str | None, booked_days_ago: float) -> Opportunity:
    email = f"{name}@{name}.example"
    if bucket:
        make_ql(email, at=days_ago(booked_days_ago + 1), bucket=bucket)
    return book(email, at=days_ago(booked_days_ago), external_id=f"m-{name}")


@pytest.fixture
def rep(client, make_user):
    user = make_user("rita", role="sales_rep", password=PASSWORD)
    client.login(username="rita", password=PASSWORD)
    return user


def emails(response) -> list[str]:
    return [item["row"].email for item in response.context["items"]]


def test_the_queue_puts_the_highest_bucket_first_then_the_soonest_due(client, rep, rules):
    booked("walkin", None, 0.1)
    booked("p3", "P3", 5)
    booked("p1new", "P1", 0.01)
    booked("p1old", "P1", 2)
    booked("p2", "P2", 1)

    response = client.get("/opportunities/queue/")

    assert response.status_code == 200
    assert emails(response) == [
        "p1old@p1old.example",
        "p1new@p1new.example",
        "p2@p2.example",
        "p3@p3.example",
        "walkin@walkin.example",
    ]
    assert dict(response.context["bucket_counts"]) == {"P1": 2, "P2": 1, "P3": 1, "unqualified": 1}


def test_service_levels_show_as_due_or_overdue(client, rep, rules):
    booked("late", "P1", 3)
    booked("fresh", "P3", 0.01)

    html = client.get("/opportunities/queue/").content.decode()

    assert "Overdue by 3 days" in html
    assert "Due in 3 days" in html


def test_a_rep_sees_their_own_and_unassigned_opportunities_only(client, rep, make_user, rules):
    theirs = booked("theirs", "P1", 1)
    booked("mine", "P2", 1)
    booked("nobody", "P2", 1)
    Opportunity.objects.filter(pk=theirs.pk).update(owner=make_user("raj", role="sales_rep"))
    Opportunity.objects.filter(lead__email="mine@mine.example").update(owner=rep)

    assert sorted(emails(client.get("/opportunities/queue/"))) == ["mine@mine.example", "nobody@nobody.example"]


def test_confirming_from_the_queue_returns_to_it_without_that_opportunity(client, rep, rules):
    first = booked("first", "P1", 1)
    booked("second", "P2", 1)

    response = client.post(
        f"/opportunities/{first.pk}/qualify/", {"next": "/opportunities/queue/?bucket="}, follow=True
    )

    assert response.redirect_chain[-1][0] == "/opportunities/queue/?bucket="
    assert emails(response) == ["second@second.example"]
    assert "Confirmed as a qualified opportunity." in response.content.decode()


def test_a_foreign_next_address_is_ignored(client, rep, rules):
    first = booked("first", "P1", 1)

    response = client.post(f"/opportunities/{first.pk}/qualify/", {"next": "https://evil.example/"})

    assert response["Location"] == f"/opportunities/{first.pk}/"


def test_filters_narrow_the_queue(client, rep, rules):
    booked("alpha", "P1", 1)
    booked("beta", "P2", 1)

    assert emails(client.get("/opportunities/queue/?bucket=P2")) == ["beta@beta.example"]
    assert emails(client.get("/opportunities/queue/?search=alpha")) == ["alpha@alpha.example"]


def test_analysts_see_every_open_opportunity_and_cannot_confirm(client, make_user, rules):
    booked("a", "P1", 1)
    make_user("ana", role="analyst", password=PASSWORD)
    client.login(username="ana", password=PASSWORD)

    response = client.get("/opportunities/queue/")

    assert emails(response) == ["a@a.example"]
    assert "Confirm a@a.example" not in response.content.decode()


def test_before_any_rules_the_queue_explains_its_order(client, rep):
    booked("a", "P1", 1)

    html = client.get("/opportunities/queue/").content.decode()

    assert "No rules are published yet" in html


def test_the_queue_takes_a_fixed_number_of_queries(client, rep, rules, django_assert_max_num_queries):
    for n in range(30):
        booked(f"lead{n}", ["P1", "P2", "P3", None][n % 4], 1 + n / 10)
    # Bounded by the number of buckets on the page (four here), not by the number of rows.
    with django_assert_max_num_queries(11):
        response = client.get("/opportunities/queue/")
    assert len(response.context["items"]) == 30


def test_queued_due_time_is_the_booking_plus_the_bucket_sla(client, rep, rules):
    opportunity = booked("a", "P2", 0.5)

    html = client.get("/opportunities/queue/").content.decode()

    due = opportunity.created_at + timedelta(hours=24)
    assert f"Due in {round((due - timezone.now()).total_seconds() / 3600)} h" in html
