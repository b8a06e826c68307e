import base64
import json
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import PendingSegmentEvent, SegmentIdentity
from integrations.services import segment_pending_replay
from leads.models import Account, Activity, Lead

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def sdk_client(segment) -> APIClient:
    client = APIClient()
    credentials = base64.b64encode(f"{segment.secret}:".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {credentials}")
    return client


def send(client: APIClient, call: str, body: dict):
    return client.post(f"/segment/v1/{call}", body, format="json")


def test_identify_creates_the_lead_and_remembers_its_user_id(sdk_client, segment):
    response = send(sdk_client, "identify", load("segment_identify.json"))

    assert response.status_code == 200
    assert response.json()["success"] is True
    lead = Lead.objects.get(email="peter@example.com")
    assert (lead.first_name, lead.last_name) == ("Peter", "Gibbons")
    assert lead.traits["plan"] == "premium"
    assert SegmentIdentity.objects.get(integration=segment, user_id="97980cfea0067").lead == lead


def test_track_records_a_product_activity_keyed_by_message_id(sdk_client):
    identify = load("segment_identify.json")
    track = {**load("segment_track.json"), "userId": identify["userId"]}
    send(sdk_client, "identify", identify)

    first = send(sdk_client, "track", track)
    again = send(sdk_client, "track", track)

    activity = Activity.objects.get()
    assert (first.json()["created"], again.json()["duplicates"]) == (1, 1)
    assert (activity.kind, activity.name, activity.source_system, activity.external_id) == (
        "product",
        "Course Clicked",
        "segment",
        track["messageId"],
    )
    assert activity.occurred_at.isoformat() == "2015-12-12T19:11:01.249000+00:00"
    assert activity.lead.email == "peter@example.com"


def test_activity_kind_in_properties_names_another_kind(sdk_client):
    send(sdk_client, "identify", {"userId": "u1", "messageId": "i1", "traits": {"email": "ada@acme.example"}})

    send(
        sdk_client,
        "track",
        {"userId": "u1", "messageId": "t1", "event": "Demo Request", "properties": {"activity_kind": "form"}},
    )

    assert Activity.objects.get().kind == "form"


def test_events_of_an_unidentified_user_wait_for_its_identify(sdk_client):
    track = {"userId": "later", "messageId": "t1", "event": "Signed Up", "timestamp": "2026-03-02T10:00:00Z"}
    group = {
        "userId": "later",
        "messageId": "g1",
        "groupId": "acct",
        "traits": {"name": "Acme", "website": "https://www.acme.example/"},
    }
    send(sdk_client, "track", track)
    send(sdk_client, "track", track)
    send(sdk_client, "group", group)
    assert Activity.objects.count() == 0
    assert PendingSegmentEvent.objects.count() == 2

    send(sdk_client, "identify", {"userId": "later", "messageId": "i1", "traits": {"email": "ada@gmail.com"}})

    assert PendingSegmentEvent.objects.count() == 0
    activity = Activity.objects.get()
    assert (activity.lead.email, activity.name, activity.occurred_at.isoformat()) == (
        "ada@gmail.com",
        "Signed Up",
        "2026-03-02T10:00:00+00:00",
    )
    assert activity.lead.account.domain == "acme.example"


def test_group_builds_the_account_from_traits_and_links_the_lead(sdk_client):
    send(sdk_client, "identify", {"userId": "u1", "messageId": "i1", "traits": {"email": "ada@acme.example"}})

    send(
        sdk_client,
        "group",
        {
            "userId": "u1",
            "messageId": "g1",
            "groupId": "acct_123",
            "traits": {
                "name": "Acme Inc",
                "domain": "acme.example",
                "employees": 420,
                "industry": "Software",
                "plan": "pro",
            },
        },
    )

    account = Account.objects.get(domain="acme.example")
    assert (account.name, account.employee_count, account.industry, account.traits) == (
        "Acme Inc",
        420,
        "software",
        {"plan": "pro"},
    )
    assert Lead.objects.get().account == account


def test_a_batch_keeps_the_good_calls_and_reports_the_bad(sdk_client):
    batch = {
        "batch": [
            {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"email": "ada@acme.example"}},
            {"type": "track", "userId": "u1", "messageId": "t1", "event": "Login"},
            {"type": "track", "userId": "u1", "messageId": "t2"},
            {"type": "teleport", "userId": "u1", "messageId": "x"},
            {"type": "track", "userId": "u1", "messageId": "t3", "event": "Login", "timestamp": "2026-03-02T10:00:00"},
            {"type": "page", "messageId": "p1", "name": "Home"},
        ]
    }

    response = sdk_client.post("/segment/v1/batch", batch, format="json")

    assert response.status_code == 200
    assert [(e["index"], sorted(e["fields"])) for e in response.json()["errors"]] == [
        (2, ["event"]),
        (3, ["type"]),
        (4, ["timestamp"]),
    ]
    assert list(Activity.objects.values_list("external_id", flat=True)) == ["t1"]


def test_a_wrong_or_missing_write_key_is_a_401(db, segment):
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"nope:").decode())

    for client in (wrong, APIClient()):
        response = client.post("/segment/v1/track", {"userId": "u", "messageId": "m", "event": "E"}, format="json")
        assert response.status_code == 401
        assert response.json()["error"]["code"] in {"authentication_failed", "not_authenticated"}


def test_bad_single_calls_are_400s(sdk_client):
    malformed = sdk_client.generic("POST", "/segment/v1/batch", b"{", content_type="application/json")
    identify_without_email = send(sdk_client, "identify", {"userId": "u", "messageId": "m", "traits": {}})
    track_on_identify = send(sdk_client, "identify", {"type": "track", "userId": "u", "messageId": "m", "event": "E"})

    assert malformed.status_code == 400
    assert identify_without_email.status_code == 400
    assert identify_without_email.json()["error"]["fields"] == {"traits.email": ["An e-mail address is required."]}
    assert track_on_identify.status_code == 400


def test_segment_refuses_wrong_types_and_oversized_bodies(sdk_client, settings):
    form = sdk_client.post("/segment/v1/track", {"userId": "u"})
    settings.INGEST_MAX_BODY_BYTES = 200
    big = sdk_client.post(
        "/segment/v1/batch",
        {"batch": [{"type": "track", "userId": "u", "messageId": f"m{n}", "event": "E"} for n in range(20)]},
        format="json",
    )
    too_many = sdk_client.post("/segment/v1/batch", {"batch": "nope"}, format="json")

    assert (form.status_code, form.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert (big.status_code, big.json()["error"]["code"]) == (413, "too_large")
    assert too_many.status_code == 400
    assert Activity.objects.count() == 0


def test_the_sweep_applies_calls_kept_for_a_user_identified_meanwhile(sdk_client, segment):
    send(sdk_client, "track", {"userId": "u1", "messageId": "t1", "event": "Login"})
    lead = Lead.objects.create(email="ada@acme.example")
    SegmentIdentity.objects.create(integration=segment, user_id="u1", lead=lead)
    send(sdk_client, "track", {"userId": "other", "messageId": "t2", "event": "Login"})

    swept = segment_pending_replay(now=timezone.now())

    assert swept == 1
    assert list(Activity.objects.values_list("external_id", "lead__email")) == [("t1", "ada@acme.example")]
    assert list(PendingSegmentEvent.objects.values_list("message_id", flat=True)) == ["t2"]
    assert segment_pending_replay(now=timezone.now()) == 0
