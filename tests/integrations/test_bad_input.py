"""Every kind of bad input gets a clear JSON error, never a 500, and loses nothing valid."""

import gzip
import json

import pytest

from leads.models import Activity, Lead

pytestmark = pytest.mark.django_db
GOOD = {"email": "ada@acme.example", "kind": "form", "name": "Demo Request", "source_system": "web"}


def post_raw(api, path: str, body: bytes | str, content_type: str = "application/json", **headers):
    return api.generic("POST", path, body, content_type=content_type, **headers)


def assert_error(response, status: int, code: str, fields: set[str] | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if fields is not None:
        assert set(error["fields"]) == fields
    return error


@pytest.mark.parametrize(
    "path", ["/api/v1/leads/", "/api/v1/activities/", "/api/v1/activities/batch/", "/api/v1/meetings/"]
)
def test_malformed_json_is_a_400(admin_api, path):
    assert_error(post_raw(admin_api, path, b'{"email": "ada@acme.example",'), 400, "parse_error")


@pytest.mark.parametrize("path", ["/api/v1/leads/", "/api/v1/activities/", "/api/v1/activities/batch/"])
def test_a_body_that_is_not_an_object_is_a_400(admin_api, path):
    assert_error(post_raw(admin_api, path, b"[1, 2]"), 400, "invalid", {"non_field_errors"})


def test_the_wrong_content_type_is_a_415(admin_api):
    response = post_raw(admin_api, "/api/v1/activities/", "email=ada@acme.example", "application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")


def test_a_body_over_the_limit_is_a_413(admin_api, settings):
    settings.INGEST_MAX_BODY_BYTES = 1000
    items = [{**GOOD, "external_id": str(n)} for n in range(50)]

    response = post_raw(admin_api, "/api/v1/activities/batch/", json.dumps({"activities": items}))

    assert_error(response, 413, "too_large")
    assert Activity.objects.count() == 0


def test_a_gzip_bomb_is_a_413_too(admin_api, settings):
    settings.INGEST_MAX_BODY_BYTES = 1000
    body = gzip.compress(json.dumps({**GOOD, "properties": {"pad": "x" * 100_000}}).encode())

    response = post_raw(admin_api, "/api/v1/activities/", body, HTTP_CONTENT_ENCODING="gzip")

    assert_error(response, 413, "too_large")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": 42}, "email"),
        ({"kind": "telepathy"}, "kind"),
        ({"kind": ["form"]}, "kind"),
        ({"name": ""}, "name"),
        ({"name": {"a": 1}}, "name"),
        ({"occurred_at": "2026-03-02T10:00:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": 1700000000}, "occurred_at"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at"),
        ({"properties": "plan=free"}, "properties"),
        ({"source_system": "x" * 51}, "source_system"),
        ({"external_id": ["a"]}, "external_id"),
    ],
)
def test_each_bad_activity_field_is_named(admin_api, change, field):
    response = admin_api.post("/api/v1/activities/", {**GOOD, **change}, format="json")

    assert_error(response, 400, "invalid", {field})
    assert Activity.objects.count() == 0


def test_too_many_batch_items_is_a_400_naming_the_list(admin_api, settings):
    settings.INGEST_MAX_BATCH = 3
    items = [{**GOOD, "external_id": str(n)} for n in range(4)]

    response = admin_api.post("/api/v1/activities/batch/", {"activities": items}, format="json")

    assert_error(response, 400, "invalid", {"activities"})


def test_a_batch_without_a_list_is_a_400(admin_api):
    response = admin_api.post("/api/v1/activities/batch/", {"activities": {"email": "x"}}, format="json")

    assert_error(response, 400, "invalid", {"activities"})


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "nope"}, {"email"}),
        ({"email": "ada@acme.example", "source": "telepathy"}, {"source"}),
        ({"email": "ada@acme.example", "company": {"name": "No domain"}}, {"company"}),
        ({"email": "ada@acme.example", "company": {"domain": "acme.example", "employee_count": "many"}}, {"company"}),
        ({"email": "ada@acme.example", "traits": [1]}, {"traits"}),
    ],
)
def test_bad_lead_fields_are_named(admin_api, body, fields):
    assert_error(admin_api.post("/api/v1/leads/", body, format="json"), 400, "invalid", fields)
    assert Lead.objects.count() == 0


def test_a_company_domain_that_is_not_a_domain_is_a_400(admin_api):
    response = admin_api.post(
        "/api/v1/leads/", {"email": "ada@acme.example", "company": {"domain": "not a domain"}}, format="json"
    )

    assert_error(response, 400, "invalid", {"domain"})


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "ada@acme.example", "booked_at": "2026-03-02 10:00"}, {"booked_at"}),
        ({"email": "ada@acme.example", "booked_at": "2999-03-02T10:00:00Z"}, {"booked_at"}),
        ({"booked_at": "2026-03-02T10:00:00Z"}, {"email"}),
    ],
)
def test_bad_meetings_are_refused(admin_api, body, fields):
    assert_error(admin_api.post("/api/v1/meetings/", body, format="json"), 400, "invalid", fields)


def test_a_meeting_may_be_scheduled_months_ahead_but_not_years(admin_api):
    from datetime import timedelta

    from django.utils import timezone

    def book(email: str, ahead: timedelta):
        scheduled_for = (timezone.now() + ahead).isoformat()
        return admin_api.post("/api/v1/meetings/", {"email": email, "scheduled_for": scheduled_for}, format="json")

    assert book("ada@acme.example", timedelta(days=60)).status_code == 201
    assert_error(book("bob@acme.example", timedelta(days=3 * 365)), 400, "invalid", {"scheduled_for"})


def test_a_meeting_booked_in_the_near_future_is_refused_by_the_service(admin_api):
    from datetime import timedelta

    from django.utils import timezone

    soon = (timezone.now() + timedelta(hours=2)).isoformat()
    response = admin_api.post("/api/v1/meetings/", {"email": "ada@acme.example", "booked_at": soon}, format="json")

    assert_error(response, 400, "invalid_effective_time", {"at"})
