import pytest
from django.core.cache import cache
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from rest_framework.throttling import ScopedRateThrottle

from leads.models import Activity, Lead
from opportunities.models import Opportunity
from tests.funnel_helpers import days_ago, make_ql

pytestmark = pytest.mark.django_db


def test_lead_upsert_creates_then_updates_by_email(admin_api):
    body = {
        "email": " Ada@Acme.Example ",
        "first_name": "Ada",
        "source": "inbound",
        "sub_source": "google",
        "company": {"domain": "www.acme.example", "name": "Acme", "employee_count": 250, "industry": "software"},
    }
    created = admin_api.post("/api/v1/leads/", body, format="json")
    updated = admin_api.post("/api/v1/leads/", {"email": "ada@acme.example", "title": "CTO"}, format="json")

    assert created.status_code == 201
    assert created.json()["email"] == "ada@acme.example"
    assert created.json()["account"]["domain"] == "acme.example"
    assert created.json()["account"]["employee_count"] == 250
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert Lead.objects.get().title == "CTO"


def test_lead_list_filters_and_detail_shows_episodes(admin_api):
    episode = make_ql("ada@acme.example", bucket="P1")
    make_ql("bob@beta.example", bucket="P2")

    listed = admin_api.get("/api/v1/leads/", {"bucket": "P1"}).json()
    by_email = admin_api.get("/api/v1/leads/", {"email": "BOB@beta.example"}).json()
    detail = admin_api.get(f"/api/v1/leads/{episode.lead_id}/").json()

    assert [row["email"] for row in listed["results"]] == ["ada@acme.example"]
    assert [row["email"] for row in by_email["results"]] == ["bob@beta.example"]
    assert detail["bucket"] == "P1"
    assert detail["episodes"][0]["source"] == "inbound"
    assert detail["episodes"][0]["opportunity_id"] is None
    assert detail["opportunities"] == []


def test_an_activity_is_stored_once_per_idempotency_key(admin_api):
    body = {
        "email": "ada@acme.example",
        "kind": "form",
        "name": "Demo Request",
        "occurred_at": "2026-03-02T10:00:00+01:00",
        "properties": {"page": "/pricing"},
        "source_system": "website",
        "external_id": "form-1",
    }
    first = admin_api.post("/api/v1/activities/", body, format="json")
    again = admin_api.post("/api/v1/activities/", body, format="json")

    assert first.status_code == 201
    assert first.json() == {"id": Activity.objects.get().pk, "duplicate": False}
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    lead = Lead.objects.get(email="ada@acme.example")
    assert lead.source == "inbound"


def test_activities_list_newest_first_with_their_keys(admin_api):
    for n, day in enumerate(["2026-03-01", "2026-03-03", "2026-03-02"]):
        admin_api.post(
            "/api/v1/activities/",
            {
                "email": "ada@acme.example",
                "kind": "product",
                "name": "Login",
                "occurred_at": f"{day}T09:00:00Z",
                "source_system": "app",
                "external_id": f"e{n}",
            },
            format="json",
        )

    page = admin_api.get("/api/v1/activities/", {"email": "ada@acme.example", "since": "2026-03-02T00:00:00Z"}).json()

    assert [(row["external_id"], row["source_system"]) for row in page["results"]] == [("e1", "app"), ("e2", "app")]


def test_a_batch_stores_the_good_items_and_reports_the_bad_ones(admin_api):
    good = {"email": "ada@acme.example", "kind": "product", "name": "Login", "source_system": "app"}
    items = [
        {**good, "external_id": "1"},
        {**good, "external_id": "2", "kind": "telepathy"},
        {**good, "external_id": "3", "email": "not-an-email"},
        {**good, "external_id": "4", "occurred_at": "2026-03-02T10:00:00"},
        {**good, "external_id": "5", "email": "bob@beta.example"},
        "not an object",
    ]

    response = admin_api.post("/api/v1/activities/batch/", {"activities": items}, format="json")
    again = admin_api.post("/api/v1/activities/batch/", {"activities": items}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["duplicates"]) == (2, 0)
    assert [(error["index"], sorted(error["fields"])) for error in body["errors"]] == [
        (1, ["kind"]),
        (2, ["email"]),
        (3, ["occurred_at"]),
        (5, ["non_field_errors"]),
    ]
    assert sorted(Activity.objects.values_list("external_id", flat=True)) == ["1", "5"]
    assert (again.json()["created"], again.json()["duplicates"]) == (0, 2)
    assert Activity.objects.count() == 2


def test_booking_a_meeting_opens_an_opportunity_once(admin_api):
    make_ql("ada@acme.example")
    body = {"email": "ada@acme.example", "booked_at": days_ago(10).isoformat(), "external_id": "cal-1"}

    first = admin_api.post("/api/v1/meetings/", body, format="json")
    again = admin_api.post("/api/v1/meetings/", body, format="json")

    opportunity = Opportunity.objects.get()
    assert first.status_code == 201
    assert first.json() == {"opportunity_id": opportunity.pk, "created": True}
    assert again.status_code == 200
    assert again.json() == {"opportunity_id": opportunity.pk, "created": False}
    assert opportunity.qualification is not None


def test_reading_needs_a_role_and_writing_needs_an_admin(client, analyst_api):
    assert client.get("/api/v1/leads/").status_code == 401
    assert analyst_api.get("/api/v1/leads/").status_code == 200
    denied = analyst_api.post("/api/v1/leads/", {"email": "ada@acme.example"}, format="json")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "permission_denied"


def test_ingestion_is_throttled_per_token(admin_api, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"ingest": "2/min", "segment": "2/min"})
    cache.clear()

    codes = [
        admin_api.post("/api/v1/leads/", {"email": f"p{n}@acme.example"}, format="json").status_code for n in range(3)
    ]
    throttled = admin_api.post("/api/v1/leads/", {"email": "p9@acme.example"}, format="json")
    reads = admin_api.get("/api/v1/leads/")
    cache.clear()

    assert codes == [201, 201, 429]
    assert throttled.json()["error"]["code"] == "throttled"
    assert "Retry-After" in throttled
    assert reads.status_code == 200


def test_openapi_schema_and_docs_are_served_locally(analyst_api, client, make_user):
    schema = analyst_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    client.force_login(make_user("viewer", "analyst"))
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/leads/", "/api/v1/activities/", "/api/v1/activities/batch/", "/api/v1/meetings/"} <= set(paths)
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "https://" not in html.split("<body")[0]


def test_the_ingestion_views_describe_themselves_in_the_schema_without_warnings():
    GENERATOR_STATS.reset()
    GENERATOR_STATS.enable_trace_lineno()

    SchemaGenerator().get_schema(request=None, public=True)

    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    assert [message for message in messages if "integrations/" in message] == []


def test_the_lead_detail_gives_the_current_scores_bucket_and_explanation(client, make_user):
    from leads.models import Lead
    from tests.leads.test_rules_pages import active_ruleset, api, qualified_lead

    ruleset = active_ruleset()
    lead = qualified_lead()
    stored = Lead.objects.get(pk=lead.pk)

    body = api(client, make_user, role="analyst").get(f"/api/v1/leads/{lead.pk}/").json()

    assert (body["fit_score"], body["intent_score"], body["bucket"]) == (
        stored.fit_score,
        stored.intent_score,
        stored.bucket,
    )
    assert body["bucket"] == "P2"
    assert body["explanation"]["ruleset_version"] == ruleset.version
    assert [episode["bucket"] for episode in body["episodes"]] == ["P2"]
