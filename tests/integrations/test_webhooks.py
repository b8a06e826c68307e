import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from integrations import signatures
from integrations.models import Integration
from leads.models import Activity, Lead
from opportunities.models import Opportunity
from tests.funnel_helpers import days_ago

FIXTURES = Path(__file__).parent / "fixtures"
VECTORS = json.loads((FIXTURES / "signature_test_vectors.json").read_text())


def vector(client: str, payload_file: str) -> dict:
    return next(v for v in VECTORS if v["client"] == client and v["payload_file"] == payload_file)


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# The documented vectors, checked at the moment they were made.


def test_the_calendly_vector_verifies_within_its_tolerance_only():
    v = vector("calendly", "calendly_invitee_created.json")
    header, body = v["headers"]["Calendly-Webhook-Signature"], raw(v["payload_file"])

    assert signatures.calendly_valid(header=header, body=body, secret=v["secret"], now=v["timestamp"] + 60)
    assert not signatures.calendly_valid(header=header, body=body, secret=v["secret"], now=v["timestamp"] + 301)
    assert not signatures.calendly_valid(header=header, body=body + b" ", secret=v["secret"], now=v["timestamp"])
    assert not signatures.calendly_valid(header=header, body=body, secret="other", now=v["timestamp"])


def test_the_hubspot_v3_vector_verifies():
    v = vector("hubspot", "hubspot_webhooks_contact_events.json")
    arguments = {
        "signature": v["headers"]["X-HubSpot-Signature-v3"],
        "timestamp_ms": v["headers"]["X-HubSpot-Request-Timestamp"],
        "method": v["request_method"],
        "uri": v["request_uri"],
        "body": raw(v["payload_file"]),
        "secret": v["secret"],
    }

    assert signatures.hubspot_v3_valid(**arguments, now=v["timestamp_ms"] / 1000 + 10)
    assert not signatures.hubspot_v3_valid(**arguments, now=v["timestamp_ms"] / 1000 + 301)
    assert not signatures.hubspot_v3_valid(
        **{**arguments, "uri": "https://example.com/other"}, now=v["timestamp_ms"] / 1000
    )


@pytest.mark.parametrize(
    "payload_file", ["intercom_conversation_notification.json", "intercom_signed_notification_example.json"]
)
def test_the_intercom_vectors_verify(payload_file):
    v = vector("intercom", payload_file)
    header, body = v["headers"]["X-Hub-Signature"], raw(payload_file)

    assert signatures.intercom_valid(header=header, body=body, secret=v["secret"])
    assert not signatures.intercom_valid(header=header, body=body + b"\n", secret=v["secret"])
    assert not signatures.intercom_valid(header="sha256=" + header[5:], body=body, secret=v["secret"])


# Deliveries through the views, signed now with the integrations' own keys.


@pytest.fixture
def keys(db) -> dict[str, str]:
    for vec in VECTORS:
        Integration.objects.get_or_create(kind=vec["client"], name="test", defaults={"secret": vec["secret"]})
    return {vec["client"]: vec["secret"] for vec in VECTORS}


def calendly_post(client, body: bytes, secret: str, *, at: int | None = None):
    t = str(at if at is not None else int(time.time()))
    signature = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return client.generic(
        "POST",
        "/webhooks/calendly/",
        body,
        content_type="application/json",
        HTTP_CALENDLY_WEBHOOK_SIGNATURE=f"t={t},v1={signature}",
    )


def calendly_body(event: str = "invitee.created", **invitee) -> bytes:
    payload = json.loads(raw("calendly_invitee_created.json"))
    payload["event"] = event
    payload["payload"].update({"email": "Jane@Acme.Example", "created_at": days_ago(2).isoformat(), **invitee})
    return json.dumps(payload).encode()


def test_a_calendly_booking_opens_an_opportunity_and_redelivery_changes_nothing(client, keys):
    body = calendly_body()

    first = calendly_post(client, body, keys["calendly"])
    again = calendly_post(client, body, keys["calendly"])

    opportunity = Opportunity.objects.get()
    assert first.status_code == 200
    assert first.json() == {"opportunity_id": opportunity.pk, "created": True}
    assert again.json() == {"opportunity_id": opportunity.pk, "created": False}
    assert opportunity.lead.email == "jane@acme.example"
    assert opportunity.created_at == days_ago(2)
    assert opportunity.scheduled_for.isoformat() == "2020-01-02T03:04:05.678123+00:00"
    assert (opportunity.source_system, opportunity.external_id) == (
        "calendly",
        "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/AAAAAAAAAAAAAAAA",
    )
    assert Activity.objects.filter(kind="meeting").count() == 1


def test_a_calendly_meeting_scheduled_weeks_ahead_is_booked(client, keys):
    in_three_weeks = timezone.now().replace(microsecond=0) + timedelta(weeks=3)
    payload = json.loads(calendly_body())
    payload["payload"]["scheduled_event"]["start_time"] = in_three_weeks.isoformat()

    response = calendly_post(client, json.dumps(payload).encode(), keys["calendly"])

    assert response.status_code == 200, response.content
    assert Opportunity.objects.get().scheduled_for == in_three_weeks


def test_a_calendly_cancellation_is_recorded_once(client, keys):
    body = calendly_body("invitee.canceled", cancellation={"reason": "Busy", "created_at": days_ago(1).isoformat()})

    calendly_post(client, body, keys["calendly"])
    calendly_post(client, body, keys["calendly"])

    activity = Activity.objects.get()
    assert (activity.name, activity.kind, activity.occurred_at) == ("Meeting Canceled", "other", days_ago(1))
    assert activity.properties["reason"] == "Busy"


@pytest.mark.parametrize("case", ["stale", "wrong_key", "missing", "tampered"])
def test_a_bad_or_replayed_calendly_signature_is_a_401_and_changes_nothing(client, keys, case):
    body = calendly_body()
    if case == "stale":
        response = calendly_post(client, body, keys["calendly"], at=int(time.time()) - 6 * 60)
    elif case == "wrong_key":
        response = calendly_post(client, body, "not-the-key")
    elif case == "missing":
        response = client.generic("POST", "/webhooks/calendly/", body, content_type="application/json")
    else:
        t = str(int(time.time()))
        signature = hmac.new(keys["calendly"].encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
        response = client.generic(
            "POST",
            "/webhooks/calendly/",
            body.replace(b"Jane@", b"Mallory@"),
            content_type="application/json",
            HTTP_CALENDLY_WEBHOOK_SIGNATURE=f"t={t},v1={signature}",
        )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert Lead.objects.count() == 0


def test_the_documented_calendly_delivery_replayed_today_is_refused(client, keys):
    v = vector("calendly", "calendly_invitee_created.json")

    response = client.generic(
        "POST",
        "/webhooks/calendly/",
        raw(v["payload_file"]),
        content_type="application/json",
        HTTP_CALENDLY_WEBHOOK_SIGNATURE=v["headers"]["Calendly-Webhook-Signature"],
    )

    assert response.status_code == 401
    assert Opportunity.objects.count() == 0


def test_webhooks_refuse_wrong_types_sizes_and_bad_json(client, keys, settings):
    settings.INGEST_MAX_BODY_BYTES = 100
    too_big = calendly_post(client, calendly_body(), keys["calendly"])
    settings.INGEST_MAX_BODY_BYTES = 10_000_000
    form = client.post("/webhooks/calendly/", {"a": "b"})
    get = client.get("/webhooks/calendly/")
    bad_json = calendly_post(client, b"{not json", keys["calendly"])
    no_email = calendly_post(client, calendly_body(email="nobody"), keys["calendly"])
    too_deep = calendly_post(client, b"[" * 100_000 + b"]" * 100_000, keys["calendly"])

    assert (too_big.status_code, too_big.json()["error"]["code"]) == (413, "too_large")
    assert form.status_code == 415
    assert get.status_code == 405
    assert (bad_json.status_code, bad_json.json()["error"]["code"]) == (400, "parse_error")
    assert (no_email.status_code, no_email.json()["error"]["code"]) == (400, "invalid")
    assert (too_deep.status_code, too_deep.json()["error"]["code"]) == (400, "parse_error")
    assert Lead.objects.count() == 0


def test_a_nul_in_a_signed_webhook_is_stored_as_a_replacement_character(client, keys):
    # PostgreSQL text cannot hold NUL; json.dumps sends it as the escape \u0000.
    response = calendly_post(client, calendly_body(uri="invitee-\x00-1"), keys["calendly"])

    assert response.status_code == 200, response.content
    assert Opportunity.objects.get().external_id == "invitee-\ufffd-1"


def hubspot_post(client, body: bytes, secret: str, *, at_ms: int | None = None):
    timestamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    uri = "http://testserver/webhooks/hubspot/"
    digest = hmac.new(secret.encode(), b"POST" + uri.encode() + body + timestamp.encode(), hashlib.sha256).digest()
    return client.generic(
        "POST",
        "/webhooks/hubspot/",
        body,
        content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3=base64.b64encode(digest).decode(),
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
    )


def hubspot_body() -> bytes:
    payload = json.loads(raw("hubspot_forms_v3_submission.json"))
    payload["fields"] = [
        {"objectTypeId": "0-1", "name": "email", "value": "ada@acme.example"},
        {"objectTypeId": "0-1", "name": "company", "value": "Acme"},
    ]
    payload["submittedAt"] = str(int(days_ago(1).timestamp() * 1000))
    payload["context"].update({"pageName": "Demo Request", "pageUri": "https://acme.example/demo"})
    return json.dumps(payload).encode()


def test_a_hubspot_form_submission_is_a_form_activity_once(client, keys):
    body = hubspot_body()

    first = hubspot_post(client, body, keys["hubspot"])
    again = hubspot_post(client, body, keys["hubspot"])

    activity = Activity.objects.get()
    assert first.status_code == 200
    assert again.json() == {"id": activity.pk, "duplicate": True}
    assert (activity.kind, activity.name, activity.lead.email) == ("form", "Demo Request", "ada@acme.example")
    assert activity.properties["fields"] == {"company": "Acme"}
    assert activity.occurred_at == days_ago(1)


def test_a_stale_hubspot_signature_is_a_401(client, keys):
    response = hubspot_post(client, hubspot_body(), keys["hubspot"], at_ms=int((time.time() - 600) * 1000))

    assert response.status_code == 401
    assert Activity.objects.count() == 0


def intercom_post(client, body: bytes, secret: str):
    signature = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return client.generic(
        "POST", "/webhooks/intercom/", body, content_type="application/json", HTTP_X_HUB_SIGNATURE=f"sha1={signature}"
    )


def test_an_intercom_conversation_from_a_user_is_a_chat_activity_once(client, keys):
    payload = json.loads(raw("intercom_conversation_notification.json"))
    payload["data"]["item"]["source"]["author"] = {
        "type": "user",
        "id": "1",
        "name": "Ada",
        "email": "Ada@Acme.Example",
    }
    body = json.dumps(payload).encode()

    intercom_post(client, body, keys["intercom"])
    again = intercom_post(client, body, keys["intercom"])

    activity = Activity.objects.get()
    assert again.json()["duplicate"] is True
    assert (activity.kind, activity.lead.email, activity.external_id) == (
        "chat",
        "ada@acme.example",
        "conversation:367",
    )
    assert activity.occurred_at.timestamp() == 1719492825


def test_the_documented_intercom_delivery_verifies_but_names_no_user(client, keys):
    v = vector("intercom", "intercom_conversation_notification.json")

    response = client.generic(
        "POST",
        "/webhooks/intercom/",
        raw(v["payload_file"]),
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE=v["headers"]["X-Hub-Signature"],
    )
    forged = intercom_post(client, raw(v["payload_file"]), "not-the-secret")

    assert response.status_code == 200
    assert "ignored" in response.json()
    assert forged.status_code == 401
    assert Activity.objects.count() == 0
