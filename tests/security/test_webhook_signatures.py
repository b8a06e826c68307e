"""Forged, stale and replayed deliveries to the webhooks and the Segment endpoint.

tests/integrations/test_webhooks.py covers the providers' documented vectors, Calendly's bad
signatures and redeliveries signed afresh. Here: the very same signed request sent twice (one
effect), the same request once the clock has left the 5-minute window (401, no effect), HubSpot's
and Intercom's forgeries, keys of another provider or of a deactivated integration, and
Segment's write key.

Intercom signs only the body (``X-Hub-Signature``), with no delivery time, and delivers late on
purpose (paused or suspended subscriptions are resent for days), so a stale window would refuse
real deliveries: a replayed Intercom delivery is made harmless by its idempotency key instead.
"""

import base64
import hashlib
import hmac
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from integrations import webhooks
from integrations.models import Integration
from integrations.services import integration_create
from leads.models import Activity, Lead
from opportunities.models import Opportunity
from tests.integrations.test_webhooks import VECTORS, calendly_body, hubspot_body, raw

HUBSPOT_URI = "http://testserver/webhooks/hubspot/"
TOLERANCE = 5 * 60


@pytest.fixture
def keys(db) -> dict[str, str]:
    for vector in VECTORS:
        Integration.objects.get_or_create(kind=vector["client"], name="test", defaults={"secret": vector["secret"]})
    return {vector["client"]: vector["secret"] for vector in VECTORS}


def calendly_headers(body: bytes, secret: str, *, at: int) -> dict[str, str]:
    signature = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return {"HTTP_CALENDLY_WEBHOOK_SIGNATURE": f"t={at},v1={signature}"}


def hubspot_headers(body: bytes, secret: str, *, at: int, method: str = "POST", uri: str = HUBSPOT_URI):
    timestamp = str(at * 1000)
    digest = hmac.new(secret.encode(), method.encode() + uri.encode() + body + timestamp.encode(), hashlib.sha256)
    return {
        "HTTP_X_HUBSPOT_SIGNATURE_V3": base64.b64encode(digest.digest()).decode(),
        "HTTP_X_HUBSPOT_REQUEST_TIMESTAMP": timestamp,
    }


def intercom_headers(body: bytes, secret: str) -> dict[str, str]:
    return {"HTTP_X_HUB_SIGNATURE": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


def intercom_body() -> bytes:
    payload = json.loads(raw("intercom_conversation_notification.json"))
    payload["data"]["item"]["source"]["author"] = {"type": "user", "id": "1", "email": "ada@acme.example"}
    return json.dumps(payload).encode()


def deliver(provider: str, body: bytes, headers: dict[str, Any]):
    return Client().post(f"/webhooks/{provider}/", body, content_type="application/json", **headers)


@pytest.fixture
def clock(monkeypatch):
    """The webhooks' clock, moved by ``clock.now = ...``."""
    moment = SimpleNamespace(now=time.time())
    monkeypatch.setattr(webhooks, "time", SimpleNamespace(time=lambda: moment.now))
    return moment


def effects() -> tuple[int, int, int]:
    return Lead.objects.count(), Activity.objects.count(), Opportunity.objects.count()


SIGNED_NOW = {
    "calendly": lambda keys, at: (calendly_body(), calendly_headers(calendly_body(), keys["calendly"], at=at)),
    "hubspot": lambda keys, at: (hubspot_body(), hubspot_headers(hubspot_body(), keys["hubspot"], at=at)),
}


@pytest.mark.parametrize("provider", ["calendly", "hubspot"])
def test_the_same_signed_request_replayed_within_the_window_has_one_effect(keys, clock, provider):
    body, headers = SIGNED_NOW[provider](keys, int(clock.now))
    first = deliver(provider, body, headers)
    after_first = effects()

    clock.now += TOLERANCE - 10
    replay = deliver(provider, body, headers)

    assert first.status_code == replay.status_code == 200
    assert effects() == after_first
    assert after_first[1] == 1


@pytest.mark.parametrize("provider", ["calendly", "hubspot"])
def test_the_same_signed_request_replayed_after_the_window_is_refused_as_stale(keys, clock, provider):
    body, headers = SIGNED_NOW[provider](keys, int(clock.now))

    clock.now += TOLERANCE + 1
    replay = deliver(provider, body, headers)

    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "invalid_signature"
    assert effects() == (0, 0, 0)


@pytest.mark.parametrize("provider", ["calendly", "hubspot"])
def test_a_signature_dated_in_the_future_beyond_the_window_is_refused(keys, clock, provider):
    body, headers = SIGNED_NOW[provider](keys, int(clock.now) + TOLERANCE + 1)

    assert deliver(provider, body, headers).status_code == 401
    assert effects() == (0, 0, 0)


def hubspot_forgeries(keys: dict[str, str], now: int) -> dict[str, tuple[bytes, dict[str, str]]]:
    body = hubspot_body()
    good = hubspot_headers(body, keys["hubspot"], at=now)
    return {
        "wrong key": (body, hubspot_headers(body, "not-the-key", at=now)),
        "tampered body": (body.replace(b"ada@", b"mallory@"), good),
        "no signature": (body, {"HTTP_X_HUBSPOT_REQUEST_TIMESTAMP": good["HTTP_X_HUBSPOT_REQUEST_TIMESTAMP"]}),
        "no timestamp": (body, {"HTTP_X_HUBSPOT_SIGNATURE_V3": good["HTTP_X_HUBSPOT_SIGNATURE_V3"]}),
        "timestamp changed": (body, {**good, "HTTP_X_HUBSPOT_REQUEST_TIMESTAMP": str(now * 1000 + 1)}),
        "signed for another URL": (body, hubspot_headers(body, keys["hubspot"], at=now, uri=HUBSPOT_URI + "x")),
        "signed for another method": (body, hubspot_headers(body, keys["hubspot"], at=now, method="GET")),
        "Calendly's key": (body, hubspot_headers(body, keys["calendly"], at=now)),
    }


@pytest.mark.parametrize(
    "forgery",
    [
        "wrong key",
        "tampered body",
        "no signature",
        "no timestamp",
        "timestamp changed",
        "signed for another URL",
        "signed for another method",
        "Calendly's key",
    ],
)
def test_a_forged_hubspot_delivery_is_a_401_and_changes_nothing(keys, forgery):
    body, headers = hubspot_forgeries(keys, int(time.time()))[forgery]

    response = deliver("hubspot", body, headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert effects() == (0, 0, 0)


@pytest.mark.parametrize("forgery", ["wrong key", "tampered body", "no signature", "sha256 scheme", "HubSpot's key"])
def test_a_forged_intercom_delivery_is_a_401_and_changes_nothing(keys, forgery):
    body = intercom_body()
    signature = intercom_headers(body, keys["intercom"])["HTTP_X_HUB_SIGNATURE"]
    sent_body, headers = {
        "wrong key": (body, intercom_headers(body, "not-the-key")),
        "tampered body": (body.replace(b"ada@", b"mallory@"), intercom_headers(body, keys["intercom"])),
        "no signature": (body, {}),
        "sha256 scheme": (body, {"HTTP_X_HUB_SIGNATURE": signature.replace("sha1=", "sha256=")}),
        "HubSpot's key": (body, intercom_headers(body, keys["hubspot"])),
    }[forgery]

    response = deliver("intercom", sent_body, headers)

    assert response.status_code == 401
    assert effects() == (0, 0, 0)


def test_a_replayed_intercom_delivery_has_one_effect_however_late(keys, clock):
    body = intercom_body()
    headers = intercom_headers(body, keys["intercom"])
    first = deliver("intercom", body, headers)

    clock.now += 3 * 24 * 60 * 60
    replay = deliver("intercom", body, headers)

    assert first.status_code == replay.status_code == 200
    assert replay.json()["duplicate"] is True
    assert Activity.objects.count() == 1


def test_a_deactivated_integrations_key_no_longer_verifies(keys):
    Integration.objects.filter(kind="calendly").update(active=False)
    body = calendly_body()

    response = deliver("calendly", body, calendly_headers(body, keys["calendly"], at=int(time.time())))

    assert response.status_code == 401
    assert effects() == (0, 0, 0)


def test_a_calendly_signature_made_with_another_providers_key_is_refused(keys):
    body = calendly_body()

    response = deliver("calendly", body, calendly_headers(body, keys["hubspot"], at=int(time.time())))

    assert response.status_code == 401
    assert effects() == (0, 0, 0)


# Segment: HTTP Basic with a write key; no signature and no timestamp, so a replayed call is made
# harmless by its messageId.

TRACK = {"type": "track", "userId": "u-1", "messageId": "message-1", "event": "Pricing Page Viewed"}
IDENTIFY = {"type": "identify", "userId": "u-1", "messageId": "message-0", "traits": {"email": "ada@acme.example"}}


def segment_call(call: str, body: dict, authorization: str | None):
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return Client().post(f"/segment/v1/{call}", json.dumps(body), content_type="application/json", **headers)


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def write_key(db) -> str:
    return integration_create(kind="segment", name="product").secret


def test_a_replayed_segment_call_has_one_effect(write_key):
    segment_call("identify", IDENTIFY, basic(write_key))

    first = segment_call("track", TRACK, basic(write_key))
    replay = segment_call("track", TRACK, basic(write_key))

    assert first.status_code == replay.status_code == 200
    assert replay.json()["duplicates"] == 1
    assert Activity.objects.filter(external_id="message-1").count() == 1


def test_segment_refuses_keys_that_are_not_an_active_write_key(write_key, keys, make_user):
    token, _ = Token.objects.get_or_create(user=make_user("boss", role="revops_admin"))
    Integration.objects.create(kind="segment", name="old", secret="retired-write-key", active=False)
    refused = {
        "a webhook signing key": basic(keys["calendly"]),
        "a deactivated write key": basic("retired-write-key"),
        "the key as the password": basic("", write_key),
        "an admin's API token": f"Token {token.key}",
        "nothing": None,
    }

    answers = {what: segment_call("track", TRACK, header).status_code for what, header in refused.items()}

    assert answers == dict.fromkeys(refused, 401)
    assert Activity.objects.count() == 0
