import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from leads.models import Lead
from leads.services import CompanyData, lead_upsert, qualification_open
from tests.factories import LeadFactory
from tests.funnel_helpers import SYSTEM, book, days_ago

PASSWORD = "a-long-test-password"
URL = reverse("leads:list")


@pytest.fixture
def rep_client(client, make_user):
    make_user(username="rep", role="sales_rep")
    assert client.login(username="rep", password=PASSWORD)
    return client


def make_lead(
    email: str,
    *,
    company: tuple[str, str] | None = None,
    source: str = "inbound",
    sub_source: str = "",
    bucket: str | None = None,
) -> Lead:
    lead, _ = lead_upsert(
        email=email,
        first_name="Grace",
        last_name="Hopper",
        source=source,
        sub_source=sub_source or None,
        company=CompanyData(domain=company[0], name=company[1]) if company else None,
        created_at=days_ago(40),
    )
    if bucket is not None:
        qualification_open(lead_id=lead.pk, qualified_at=days_ago(35), source=source, bucket=bucket, actor=SYSTEM)
    return lead


def next_page_link(response) -> str:
    found = re.search(r'href="([^"]+)" rel="next"', response.content.decode())
    assert found is not None
    return found.group(1).replace("&amp;", "&")


def emails_on(response) -> list[str]:
    return [lead.email for lead in response.context["page"]]


def test_a_lead_row_shows_company_source_stage_bucket_and_created_date(rep_client):
    make_lead("grace@acme.example", company=("acme.example", "Acme Inc"), sub_source="google", bucket="P1")

    response = rep_client.get(URL)

    row = response.content.decode().split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert "grace@acme.example" in row
    assert "Grace Hopper" in row
    assert "Acme Inc" in row
    assert "acme.example" in row
    assert "Inbound" in row
    assert "google" in row
    assert "Qualified lead" in row
    assert '<span class="bucket">P1</span>' in row
    assert days_ago(40).strftime("%Y-%m-%d") in row


def test_only_the_open_episode_gives_a_lead_its_bucket(rep_client):
    lead = make_lead("booked@acme.example", bucket="P2")
    book("booked@acme.example", at=days_ago(34), external_id="m-1")
    make_lead("cold@acme.example")

    response = rep_client.get(URL)

    buckets = {lead.email: lead.open_bucket for lead in response.context["page"]}
    assert buckets == {"booked@acme.example": "P2", "cold@acme.example": None}
    assert Lead.objects.get(pk=lead.pk).stage == "opportunity"


def test_filtering_by_stage(rep_client):
    make_lead("ql@acme.example", bucket="P1")
    make_lead("new@acme.example")

    response = rep_client.get(URL, {"stage": "ql"})

    assert emails_on(response) == ["ql@acme.example"]
    assert "fits the ideal customer profile and has shown intent" in response.content.decode()


def test_filtering_by_source(rep_client):
    make_lead("chat@acme.example", source="chat")
    make_lead("product@acme.example", source="product")

    response = rep_client.get(URL, {"source": "chat"})

    assert emails_on(response) == ["chat@acme.example"]


def test_filtering_by_the_bucket_of_the_open_episode(rep_client):
    make_lead("p1@acme.example", bucket="P1")
    make_lead("p2@acme.example", bucket="P2")
    make_lead("none@acme.example")

    response = rep_client.get(URL, {"bucket": "P2"})

    assert emails_on(response) == ["p2@acme.example"]
    assert '<option value="P1">P1</option>' in response.content.decode()


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("grace@", ["grace@initech.example"]),
        ("Globex", ["ada@globex.example"]),
        ("initech.ex", ["grace@initech.example"]),
    ],
)
def test_searching_by_email_company_name_or_domain(rep_client, search, expected):
    make_lead("grace@initech.example", company=("initech.example", "Initech"))
    make_lead("ada@globex.example", company=("globex.example", "Globex Corporation"))

    response = rep_client.get(URL, {"search": search})

    assert emails_on(response) == expected


def test_filters_combine(rep_client):
    make_lead("chat-p1@acme.example", source="chat", bucket="P1")
    make_lead("chat-p2@acme.example", source="chat", bucket="P2")
    make_lead("form-p1@acme.example", source="inbound", bucket="P1")

    response = rep_client.get(URL, {"source": "chat", "bucket": "P1"})

    assert emails_on(response) == ["chat-p1@acme.example"]


def test_an_unknown_filter_value_filters_nothing(rep_client):
    make_lead("a@acme.example")
    make_lead("b@acme.example")

    response = rep_client.get(URL, {"stage": "bogus"})

    assert response.status_code == 200
    assert sorted(emails_on(response)) == ["a@acme.example", "b@acme.example"]


def test_pages_hold_fifty_leads_and_keep_the_filters(rep_client):
    LeadFactory.create_batch(55, source="chat")
    LeadFactory.create_batch(3, source="product")

    first = rep_client.get(URL, {"source": "chat"})
    next_link = next_page_link(first)
    second = rep_client.get(URL + next_link)

    assert len(emails_on(first)) == 50
    assert "source=chat" in next_link
    assert "page=2" in next_link
    assert len(emails_on(second)) == 5
    assert Lead.objects.filter(email__in=emails_on(second), source="chat").count() == 5
    assert "Page 2 of 2" in second.content.decode()


def test_no_leads_yet_explains_where_they_come_from(rep_client):
    content = rep_client.get(URL).content.decode()

    assert "No leads yet" in content


def test_no_match_offers_to_clear_the_filters(rep_client):
    make_lead("a@acme.example")

    content = rep_client.get(URL, {"search": "nobody"}).content.decode()

    assert "No leads match these filters" in content
    assert "Clear filters" in content


def test_dates_are_shown_in_the_report_time_zone(rep_client, settings):
    settings.REPORT_TIME_ZONE = "Pacific/Auckland"
    LeadFactory(email="late@acme.example", created_at=datetime(2026, 11, 29, 20, 0, tzinfo=UTC))

    content = rep_client.get(URL).content.decode()

    assert ">2026-11-30</time>" in content


def test_the_list_takes_a_fixed_number_of_queries(rep_client, django_assert_max_num_queries):
    for number in range(30):
        make_lead(f"lead{number}@co{number}.example", company=(f"co{number}.example", f"Co {number}"), bucket="P1")

    with django_assert_max_num_queries(6):
        response = rep_client.get(URL)

    assert len(emails_on(response)) == 30
