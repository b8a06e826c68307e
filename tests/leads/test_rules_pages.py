"""The rules pages, the rulesets API and the lead page's explanation, through the client."""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from leads.models import Lead, Qualification, Ruleset
from leads.services import CompanyData, activity_record, lead_upsert, leads_classify, ruleset_create, ruleset_publish
from tests.leads.test_scoring import DOCUMENT

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"


@pytest.fixture
def admin_client(client, make_user):
    make_user("boss", role="revops_admin", password=PASSWORD)
    client.login(username="boss", password=PASSWORD)
    return client


def api(client, make_user, role="revops_admin"):
    user = make_user(f"api-{role}", role=role)
    token, _ = Token.objects.get_or_create(user=user)
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    return client


def active_ruleset() -> Ruleset:
    ruleset = ruleset_create(document=copy.deepcopy(DOCUMENT))
    ruleset_publish(ruleset_id=ruleset.pk)
    return ruleset


def qualified_lead() -> Lead:
    lead, _ = lead_upsert(
        email="ada@engines.example",
        source="inbound",
        company=CompanyData(domain="engines.example", employee_count=300, industry="software"),
    )
    activity_record(
        email=lead.email,
        kind="form",
        name="Demo Request",
        source_system="test",
        external_id="d1",
        occurred_at=timezone.now() - timedelta(days=14),
    )
    leads_classify(lead_ids=[lead.pk])
    return lead


# ---------------------------------------------------------------- API


def test_the_api_creates_a_draft_and_explains_an_invalid_one(client, make_user):
    client = api(client, make_user)

    created = client.post("/api/v1/rulesets/", DOCUMENT, content_type="application/json")
    bad = {**DOCUMENT, "buckets": [{**DOCUMENT["buckets"][-1], "min_fit": 5}]}
    refused = client.post("/api/v1/rulesets/", bad, content_type="application/json")

    assert created.status_code == 201
    assert (created.json()["version"], created.json()["status"]) == (1, "draft")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid"
    assert "last bucket" in refused.json()["error"]["fields"]["buckets[0]"][0]


def test_the_api_publishes_with_a_job_and_shows_the_active_ruleset(client, make_user):
    client = api(client, make_user)
    assert client.get("/api/v1/rulesets/active/").status_code == 404
    ruleset = ruleset_create(document=copy.deepcopy(DOCUMENT))

    preview = client.post(f"/api/v1/rulesets/{ruleset.pk}/preview/", {"weeks": 4}, content_type="application/json")
    published = client.post(f"/api/v1/rulesets/{ruleset.pk}/publish/")

    assert preview.status_code == 200
    assert len(preview.json()["weeks"]) == 4
    assert published.status_code == 202
    job = client.get(f"/api/v1/jobs/{published.json()['job_id']}/")
    assert job.json()["kind"] == "rules_publish"
    assert client.get("/api/v1/rulesets/active/").json()["id"] == ruleset.pk
    assert [row["id"] for row in client.get("/api/v1/rulesets/").json()] == [ruleset.pk]
    assert client.post(f"/api/v1/rulesets/{ruleset.pk}/publish/").status_code == 409


def test_only_admins_use_the_rulesets_api(client, make_user):
    client = api(client, make_user, role="analyst")

    assert client.get("/api/v1/rulesets/").status_code == 403


# ---------------------------------------------------------------- pages


def test_an_analyst_cannot_open_the_rules_pages(client, make_user):
    make_user("ana", role="analyst", password=PASSWORD)
    client.login(username="ana", password=PASSWORD)

    assert client.get("/rules/").status_code == 403


def test_an_admin_drafts_edits_with_explained_errors_previews_and_publishes(admin_client):
    active = active_ruleset()
    qualified_lead()

    response = admin_client.post("/rules/drafts/")
    draft = Ruleset.objects.get(status="draft")
    assert response["Location"] == f"/rules/{draft.pk}/edit/"
    form = admin_client.get(f"/rules/{draft.pk}/edit/").context["form"]
    data = {name: "" if value is None else value for name, value in form.initial.items()}

    invalid = admin_client.post(
        f"/rules/{draft.pk}/edit/", {**data, "fit_rules": data["fit_rules"].replace('"op": "in"', '"op": "inside"')}
    )
    assert invalid.status_code == 200
    assert "fit_rules[1].op: Unknown operator &#x27;inside&#x27;" in invalid.content.decode()

    saved = admin_client.post(f"/rules/{draft.pk}/edit/", {**data, "fit_threshold": "60", "name": "Stricter"})
    assert saved.status_code == 302
    draft.refresh_from_db()
    assert (draft.name, draft.document["fit_threshold"]) == ("Stricter", 60)

    preview = admin_client.get(f"/rules/{draft.pk}/preview/?weeks=4")
    assert preview.context["preview"].qls_before == 1
    assert preview.context["preview"].qls_after == 0
    assert "ada@engines.example" in preview.content.decode()

    confirm = admin_client.get(f"/rules/{draft.pk}/publish/")
    assert "Fit threshold: 40 → 60" in confirm.content.decode()
    done = admin_client.post(f"/rules/{draft.pk}/publish/")
    assert done.status_code == 302
    draft.refresh_from_db()
    active.refresh_from_db()
    assert (draft.status, active.status) == ("active", "retired")
    history = admin_client.get("/rules/").content.decode()
    assert "published" in history
    assert "by boss" in history
    assert f"Roll back to v{active.version}" in history


def test_the_lead_page_explains_the_classification(client, make_user):
    make_user("rita", role="sales_rep", password=PASSWORD)
    client.login(username="rita", password=PASSWORD)
    ruleset = active_ruleset()
    lead = qualified_lead()
    episode = Qualification.objects.get(lead=lead)

    page = client.get(f"/leads/{lead.pk}/").content.decode()

    assert f"ruleset <strong>v{ruleset.version}" in page
    assert "Mid-market" in page
    assert "Demo Request" in page
    assert "Not P1: fit 50 is below 60." in page
    assert episode.bucket == "P2"
    assert client.get("/leads/999999/").status_code == 404


def test_the_rulesets_api_is_in_the_openapi_schema(client, make_user):
    client = api(client, make_user)

    paths = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]

    for path in ("/api/v1/rulesets/", "/api/v1/rulesets/active/", "/api/v1/rulesets/{id}/preview/"):
        assert path in paths
    assert "202" in paths["/api/v1/rulesets/{id}/publish/"]["post"]["responses"]
