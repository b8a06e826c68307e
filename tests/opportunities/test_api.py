from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leads.models import StageTransition
from opportunities.models import Opportunity
from tests.funnel_helpers import book, days_ago, make_ql

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(make_user):
    def client_for(username: str, role: str) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=make_user(username, role=role))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


@pytest.fixture
def opportunity() -> Opportunity:
    make_ql(at=days_ago(10), bucket="P2")
    return book(at=days_ago(9))


def test_the_detail_names_every_contract_field_and_the_history(token_client, opportunity):
    response = token_client("ana", "analyst").get(f"/api/v1/opportunities/{opportunity.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert {
        "id",
        "lead_email",
        "stage",
        "created_at",
        "qualified_at",
        "closed_at",
        "source",
        "sub_source",
        "bucket",
        "owner",
        "amount",
        "reason",
        "history",
    } <= set(body)
    assert (body["lead_email"], body["stage"], body["bucket"], body["source"]) == (
        "ada@acme.example",
        "open",
        "P2",
        "inbound",
    )
    assert [(row["from_stage"], row["to_stage"]) for row in body["history"]] == [("", "open")]


def test_the_list_filters_by_stage_owner_and_email(token_client, opportunity):
    other = book("bo@beta.example", at=days_ago(3), external_id="m-2")
    client = token_client("ana", "analyst")

    assert [row["id"] for row in client.get("/api/v1/opportunities/?stage=open").json()["results"]] == [
        other.pk,
        opportunity.pk,
    ]
    by_email = client.get("/api/v1/opportunities/?lead_email=BO@beta.example").json()["results"]
    assert [row["id"] for row in by_email] == [other.pk]
    assert other.qualification is None
    assert by_email[0]["bucket"] == "unqualified"
    assert client.get("/api/v1/opportunities/?owner=nobody").json()["count"] == 0


def test_a_token_client_may_backdate_a_qualification(token_client, opportunity):
    at = days_ago(8)

    response = token_client("sync", "sales_rep").post(
        f"/api/v1/opportunities/{opportunity.pk}/qualify/", {"at": at.isoformat()}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["stage"] == "qualified"
    opportunity.refresh_from_db()
    assert opportunity.qualified_at == at
    row = StageTransition.objects.get(object_type="opportunity", to_stage="qualified")
    assert (row.actor_kind, row.actor_name) == ("integration", "api:sync")


def test_a_browser_session_acts_now_and_takes_the_unassigned_opportunity(client, make_user, opportunity):
    rep = make_user("rita", role="sales_rep")
    client.force_login(rep)

    response = client.post(
        f"/api/v1/opportunities/{opportunity.pk}/qualify/",
        {"at": days_ago(8).isoformat()},
        content_type="application/json",
    )

    assert response.status_code == 200
    opportunity.refresh_from_db()
    assert opportunity.qualified_at > timezone.now() - timedelta(minutes=1)
    assert opportunity.owner == rep


def test_win_lose_and_disqualify_take_their_fields(token_client, opportunity):
    client = token_client("sync", "revops_admin")

    disqualified = client.post(
        f"/api/v1/opportunities/{opportunity.pk}/disqualify/", {"reason": "not_icp", "note": "Agency"}, format="json"
    )
    assert disqualified.status_code == 200
    assert (disqualified.json()["reason"], disqualified.json()["reason_note"]) == ("not_icp", "Agency")

    make_ql("won@acme.example", at=days_ago(10))
    winner = book("won@acme.example", at=days_ago(9), external_id="m-won")
    won = client.post(f"/api/v1/opportunities/{winner.pk}/win/", {"amount": "12500.00"}, format="json")
    assert won.status_code == 200
    assert (won.json()["stage"], won.json()["amount"]) == ("won", "12500.00")
    assert won.json()["qualified_at"] == won.json()["closed_at"]


def test_an_illegal_move_is_a_409_in_the_error_format(token_client, opportunity):
    response = token_client("sync", "sales_rep").post(
        f"/api/v1/opportunities/{opportunity.pk}/lose/", {"reason": "timing"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "illegal_transition"
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "open"


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("disqualify", {}, "reason"),
        ("disqualify", {"reason": "made_up"}, "reason"),
        ("win", {"amount": "lots"}, "amount"),
        ("qualify", {"at": "yesterday"}, "at"),
        ("qualify", {"at": "2999-01-01T00:00:00+00:00"}, "at"),
    ],
)
def test_bad_input_names_the_field(token_client, opportunity, action, body, field):
    response = token_client("sync", "sales_rep").post(
        f"/api/v1/opportunities/{opportunity.pk}/{action}/", body, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "open"


def test_analysts_read_but_cannot_act(token_client, opportunity):
    response = token_client("ana", "analyst").post(f"/api/v1/opportunities/{opportunity.pk}/qualify/")

    assert response.status_code == 403
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "open"


def test_a_rep_cannot_act_on_another_reps_opportunity(token_client, make_user, opportunity):
    Opportunity.objects.filter(pk=opportunity.pk).update(owner=make_user("raj", role="sales_rep"))

    response = token_client("rita", "sales_rep").post(f"/api/v1/opportunities/{opportunity.pk}/qualify/")

    assert response.status_code == 403
    assert "another rep" in response.json()["error"]["message"]


def test_an_unknown_opportunity_is_a_404(token_client):
    assert token_client("rita", "sales_rep").post("/api/v1/opportunities/424242/qualify/").status_code == 404
