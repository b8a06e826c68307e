import re
from decimal import Decimal

import pytest
from django.urls import reverse

from opportunities.models import Opportunity
from opportunities.services import opportunity_disqualify, opportunity_lose, opportunity_qualify, opportunity_win
from tests.funnel_helpers import CRM, book, days_ago, make_ql

PASSWORD = "a-long-test-password"
URL = reverse("opportunities:list")


@pytest.fixture
def rep(make_user):
    return make_user(username="rep", role="sales_rep")


@pytest.fixture
def rep_client(client, rep):
    assert client.login(username="rep", password=PASSWORD)
    return client


def opportunity(email: str, *, bucket: str | None = "P1", path: tuple[str, ...] = ()) -> Opportunity:
    """An opportunity booked 29 days ago (after a QL 30 days ago unless ``bucket`` is None), moved along ``path``."""
    if bucket is not None:
        make_ql(email, at=days_ago(30), bucket=bucket)
    booked = book(email, at=days_ago(29), external_id=f"meeting-{email}")
    moves = {
        "qualify": lambda: opportunity_qualify(opportunity_id=booked.pk, actor=CRM, at=days_ago(20)),
        "win": lambda: opportunity_win(opportunity_id=booked.pk, actor=CRM, at=days_ago(10), amount=Decimal("12500")),
        "lose": lambda: opportunity_lose(opportunity_id=booked.pk, actor=CRM, at=days_ago(10), reason="competitor"),
        "disqualify": lambda: opportunity_disqualify(
            opportunity_id=booked.pk, actor=CRM, at=days_ago(25), reason="no_show"
        ),
    }
    for step in path:
        moves[step]()
    return Opportunity.objects.get(pk=booked.pk)


@pytest.fixture
def funnel(db):
    return {
        "open": opportunity("open@acme.example", bucket="P1"),
        "qualified": opportunity("qo@acme.example", bucket="P2", path=("qualify",)),
        "won": opportunity("won@acme.example", bucket="P1", path=("qualify", "win")),
        "lost": opportunity("lost@acme.example", bucket="P2", path=("qualify", "lose")),
        "disqualified": opportunity("dq@acme.example", bucket="P3", path=("disqualify",)),
        "unqualified": opportunity("walk-in@newco.example", bucket=None),
    }


def next_page_link(response) -> str:
    found = re.search(r'href="([^"]+)" rel="next"', response.content.decode())
    assert found is not None
    return found.group(1).replace("&amp;", "&")


def emails_on(response) -> list[str]:
    return sorted(row.email for row in response.context["rows"])


def tab_counts(response) -> dict[str, int]:
    return {tab["label"]: tab["count"] for tab in response.context["tabs"]}


def test_the_default_view_is_the_working_set_of_open_and_qualified_opportunities(rep_client, funnel):
    response = rep_client.get(URL)

    assert emails_on(response) == ["open@acme.example", "qo@acme.example", "walk-in@newco.example"]
    assert "Open and qualified opportunities" in response.content.decode()


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("open", ["open@acme.example", "walk-in@newco.example"]),
        ("qualified", ["qo@acme.example"]),
        ("won", ["won@acme.example"]),
        ("lost", ["lost@acme.example"]),
        ("disqualified", ["dq@acme.example"]),
    ],
)
def test_filtering_by_stage(rep_client, funnel, stage, expected):
    assert emails_on(rep_client.get(URL, {"stage": stage})) == expected


def test_all_shows_every_stage(rep_client, funnel):
    assert len(emails_on(rep_client.get(URL, {"stage": "all"}))) == 6


def test_stage_tabs_count_each_stage_and_keep_the_other_filters(rep_client, funnel):
    response = rep_client.get(URL, {"bucket": "P1"})

    assert tab_counts(response) == {
        "Working set": 1,
        "Open": 1,
        "Qualified (QO)": 0,
        "Closed won": 1,
        "Closed lost": 0,
        "Disqualified": 0,
        "All": 2,
    }
    assert 'href="?bucket=P1&amp;stage=won"' in response.content.decode()


def test_a_row_shows_the_funnel_slice_milestones_and_outcome(rep_client, funnel):
    response = rep_client.get(URL, {"stage": "won"})

    [row] = response.context["rows"]
    assert (row.stage_label, row.bucket, row.source, row.sub_source) == ("Closed won", "P1", "Inbound", "google")
    assert (row.company, row.domain, row.owner) == ("", "acme.example", "Unassigned")
    assert row.booked_at == days_ago(29)
    assert row.qualified_at == days_ago(20)
    assert row.closed_at == days_ago(10)
    assert row.outcome == "12,500.00"
    content = response.content.decode()
    assert "won@acme.example" in content
    assert days_ago(20).strftime("%Y-%m-%d") in content
    assert "12,500.00" in content


def test_lost_and_disqualified_rows_show_their_reason(rep_client, funnel):
    lost = rep_client.get(URL, {"stage": "lost"}).content.decode()
    disqualified = rep_client.get(URL, {"stage": "disqualified"}).content.decode()

    assert "Chose a competitor" in lost
    assert "Did not show up" in disqualified


def test_an_opportunity_without_an_episode_is_unqualified_with_the_first_touch_source(rep_client, funnel):
    response = rep_client.get(URL, {"bucket": "unqualified"})

    [row] = response.context["rows"]
    assert (row.email, row.bucket, row.source) == ("walk-in@newco.example", "unqualified", "Inbound")
    assert '<span class="bucket bucket--unqualified">unqualified</span>' in response.content.decode()


def test_filtering_by_bucket(rep_client, funnel):
    response = rep_client.get(URL, {"bucket": "P2", "stage": "all"})

    assert emails_on(response) == ["lost@acme.example", "qo@acme.example"]


def test_filtering_by_owner(rep_client, rep, make_user, funnel):
    other = make_user(username="other-rep", role="sales_rep")
    Opportunity.objects.filter(pk=funnel["open"].pk).update(owner=rep)
    Opportunity.objects.filter(pk=funnel["qualified"].pk).update(owner=other)

    mine = rep_client.get(URL, {"owner": "mine"})
    unassigned = rep_client.get(URL, {"owner": "unassigned"})

    assert emails_on(mine) == ["open@acme.example"]
    assert emails_on(unassigned) == ["walk-in@newco.example"]
    assert tab_counts(mine)["All"] == 1
    assert "rep" in [row.owner for row in mine.context["rows"]]


def test_pagination_keeps_stage_and_filters(rep_client, db):
    for number in range(52):
        opportunity(f"lead{number}@acme.example", bucket="P1", path=("qualify",))
    opportunity("other@acme.example", bucket="P2", path=("qualify",))

    first = rep_client.get(URL, {"stage": "qualified", "bucket": "P1"})
    next_link = next_page_link(first)
    second = rep_client.get(URL + next_link)

    assert len(first.context["rows"]) == 50
    assert "stage=qualified" in next_link
    assert "bucket=P1" in next_link
    assert len(second.context["rows"]) == 2
    assert all(row.bucket == "P1" and row.stage == "qualified" for row in second.context["rows"])


def test_no_opportunities_explains_where_they_come_from(rep_client):
    content = rep_client.get(URL).content.decode()

    assert "Opportunities appear when a lead books a meeting with sales" in content


def test_the_list_takes_a_fixed_number_of_queries(rep_client, rep, django_assert_max_num_queries):
    for number in range(30):
        booked = opportunity(f"lead{number}@company{number}.example", bucket="P1" if number % 3 else None)
        Opportunity.objects.filter(pk=booked.pk).update(owner=rep)

    with django_assert_max_num_queries(7):
        response = rep_client.get(URL)

    assert len(response.context["rows"]) == 30
