import pytest

from leads.services import activity_record
from opportunities.models import Opportunity
from tests.funnel_helpers import book, days_ago, make_ql

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"


@pytest.fixture
def opportunity() -> Opportunity:
    make_ql(at=days_ago(10), bucket="P1")
    activity_record(
        email="ada@acme.example",
        kind="product",
        name="Workspace Limit Reached",
        occurred_at=days_ago(9.5),
        source_system="segment",
        external_id="e-1",
    )
    return book(at=days_ago(9))


@pytest.fixture
def rep_client(client, make_user):
    make_user("rita", role="sales_rep", password=PASSWORD)
    client.login(username="rita", password=PASSWORD)
    return client


def test_the_page_shows_the_lead_the_episode_the_history_and_the_actions(rep_client, opportunity):
    response = rep_client.get(f"/opportunities/{opportunity.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "ada@acme.example" in html
    assert "Workspace Limit Reached" in html
    assert "Qualified lead since" in html
    assert "Confirm qualified" in html
    assert "Disqualify" in html
    assert "Mark lost" not in html


def test_the_page_takes_a_fixed_number_of_queries(rep_client, opportunity, django_assert_max_num_queries):
    for n in range(20):
        activity_record(email="ada@acme.example", kind="form", name=f"Form {n}", source_system="t", external_id=f"f{n}")
    with django_assert_max_num_queries(12):
        rep_client.get(f"/opportunities/{opportunity.pk}/")


def test_confirming_moves_the_opportunity_and_says_so(rep_client, opportunity):
    response = rep_client.post(f"/opportunities/{opportunity.pk}/qualify/", follow=True)

    assert response.status_code == 200
    assert "Confirmed as a qualified opportunity." in response.content.decode()
    opportunity.refresh_from_db()
    assert opportunity.stage == "qualified"
    assert opportunity.owner.username == "rita"
    assert "Mark lost" in response.content.decode()


def test_a_second_click_changes_nothing_and_explains(rep_client, opportunity):
    rep_client.post(f"/opportunities/{opportunity.pk}/qualify/")

    response = rep_client.post(f"/opportunities/{opportunity.pk}/qualify/", follow=True)

    assert "Nothing changed: this opportunity is already qualified (qo)." in response.content.decode()
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "qualified"


def test_disqualifying_needs_a_reason(rep_client, opportunity):
    response = rep_client.post(f"/opportunities/{opportunity.pk}/disqualify/", {"reason": "", "note": "x"})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "open"


def test_disqualifying_with_a_reason_and_note(rep_client, opportunity):
    rep_client.post(f"/opportunities/{opportunity.pk}/disqualify/", {"reason": "no_show", "note": "Twice"})

    opportunity.refresh_from_db()
    assert (opportunity.stage, opportunity.reason.code, opportunity.reason_note) == ("disqualified", "no_show", "Twice")


def test_winning_records_the_amount(rep_client, opportunity):
    rep_client.post(f"/opportunities/{opportunity.pk}/win/", {"amount": "4800"})

    opportunity.refresh_from_db()
    assert (opportunity.stage, str(opportunity.amount)) == ("won", "4800.00")


def test_analysts_read_the_page_without_actions_and_cannot_post(client, make_user, opportunity):
    make_user("ana", role="analyst", password=PASSWORD)
    client.login(username="ana", password=PASSWORD)

    page = client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    response = client.post(f"/opportunities/{opportunity.pk}/qualify/")

    assert "Confirm qualified" not in page
    assert response.status_code == 403
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "open"


def test_a_rep_cannot_act_on_another_reps_opportunity(rep_client, make_user, opportunity):
    Opportunity.objects.filter(pk=opportunity.pk).update(owner=make_user("raj", role="sales_rep"))

    assert "Confirm qualified" not in rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert rep_client.post(f"/opportunities/{opportunity.pk}/qualify/").status_code == 403


def test_anonymous_users_are_sent_to_log_in(client, opportunity):
    response = client.get(f"/opportunities/{opportunity.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_unknown_opportunities_and_actions_are_404(rep_client, opportunity):
    assert rep_client.get("/opportunities/999999/").status_code == 404
    assert rep_client.post(f"/opportunities/{opportunity.pk}/explode/").status_code == 404


def test_actions_need_post(rep_client, opportunity):
    assert rep_client.get(f"/opportunities/{opportunity.pk}/qualify/").status_code == 405
