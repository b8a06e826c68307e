"""The Segment endpoint under hostile JSON: never a 500, errors in the API's format, nothing valid lost."""

import base64
import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from integrations.models import Integration, PendingSegmentEvent
from integrations.services import integration_create
from leads.models import Activity, Lead

from .conftest import FUZZ_SETTINGS

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

ENDPOINTS = ("batch", "track", "identify", "group")
SEGMENT_KEYS = ("type", "messageId", "userId", "anonymousId", "event", "timestamp", "traits", "properties", "groupId")
IDENTIFIED_USER = "fuzz-user"
TRAIT_KEYS = ("email", "name", "domain", "website", "employees", "employee_count", "industry", "country")

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and Infinity too: Python's json module reads them
    | st.text(max_size=300)
    | st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat())
    | st.sampled_from(("identify", "track", "group", "page", "alias", "ada@acme.example", "acme.example"))
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(SEGMENT_KEYS + TRAIT_KEYS) | st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=20,
)
segment_like_calls = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(("identify", "track", "group", "page", "teleport")) | json_values,
        "messageId": st.uuids().map(str) | json_values,
        "userId": st.just(IDENTIFIED_USER) | st.uuids().map(str) | st.integers() | json_values,
        "event": st.text(max_size=300) | json_values,
        "timestamp": scalars,
        "traits": st.dictionaries(st.sampled_from(TRAIT_KEYS), scalars) | json_values,
        "properties": st.dictionaries(st.text(max_size=10), json_values, max_size=4) | json_values,
    },
)
hostile_bodies = (
    json_values
    | segment_like_calls
    | st.fixed_dictionaries({"batch": st.lists(segment_like_calls | json_values, max_size=8) | json_values})
)


@pytest.fixture
def segment_integration(db) -> Integration:
    return integration_create(kind="segment", name="fuzz")


@pytest.fixture
def sdk_client(segment_integration) -> APIClient:
    """A client with the write key, whose user IDENTIFIED_USER is known, so its calls reach the database."""
    client = APIClient()
    write_key = base64.b64encode(f"{segment_integration.secret}:".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {write_key}")
    identify = {"userId": IDENTIFIED_USER, "messageId": "identify", "traits": {"email": "fuzz@acme.example"}}
    assert post(client, "identify", json.dumps(identify).encode()).status_code == 200
    return client


def post(client: APIClient, endpoint: str, body: bytes) -> Any:
    return client.generic("POST", f"/segment/v1/{endpoint}", body, content_type="application/json")  # type: ignore[arg-type]


def assert_answered_in_the_api_format(response: Any) -> dict[str, Any]:
    assert response.status_code < 500, response.content[:2000]
    payload = response.json()
    if response.status_code >= 400:
        error = payload["error"]
        assert isinstance(error["code"], str)
        assert isinstance(error["message"], str)
        assert error["code"]
        assert error["message"]
        assert isinstance(error["fields"], dict)
    else:
        assert response.status_code == 200
        assert payload["success"] is True
    return dict(payload)


@FUZZ_SETTINGS
@given(endpoint=st.sampled_from(ENDPOINTS), body=hostile_bodies)
@example(
    endpoint="group",
    body={"messageId": "m", "userId": IDENTIFIED_USER, "traits": {"domain": "a.example", "employees": 1e300}},
)
@example(endpoint="track", body={"type": "track", "messageId": "m" * 256, "userId": "u", "event": "e" * 10_000})
@example(
    endpoint="track",
    body={"messageId": "nul", "userId": IDENTIFIED_USER, "event": "E\x00", "properties": {"\x00": ["\x00"]}},
)
def test_any_json_gets_a_2xx_or_a_4xx_in_the_error_format(sdk_client, endpoint, body):
    assert_answered_in_the_api_format(post(sdk_client, endpoint, json.dumps(body).encode()))


@FUZZ_SETTINGS
@given(endpoint=st.sampled_from(ENDPOINTS), body=st.binary(max_size=2000))
@example(endpoint="batch", body=b"\xef\xbb\xbf{}")
@example(endpoint="batch", body=b"[" * 100_000)
@example(endpoint="batch", body='{"batch": "ü"}'.encode("utf-16"))
def test_any_bytes_get_a_2xx_or_a_4xx_in_the_error_format(sdk_client, endpoint, body):
    assert_answered_in_the_api_format(post(sdk_client, endpoint, body))


@st.composite
def batches_with_junk(draw: st.DrawFn) -> tuple[list[Any], dict[int, dict[str, Any]]]:
    """A batch of valid identify and track calls mixed with junk; also the valid calls by index."""
    valid: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        user_id = str(draw(st.uuids()))
        valid.append(
            {
                "type": "identify",
                "userId": user_id,
                "messageId": f"i-{user_id}",
                "traits": {"email": f"{user_id}@fuzz.example"},
            }
        )
        for _ in range(draw(st.integers(0, 2))):
            event = draw(st.text(min_size=1, max_size=255).filter(str.strip))
            valid.append({"type": "track", "userId": user_id, "messageId": str(draw(st.uuids())), "event": event})
    junk = draw(st.lists(json_values | segment_like_calls, max_size=6))
    calls = draw(st.permutations(valid + junk))
    return calls, {index: call for index, call in enumerate(calls) if call in valid}


@FUZZ_SETTINGS
@given(batch=batches_with_junk())
def test_valid_calls_in_a_batch_survive_their_junk_siblings(sdk_client, batch):
    calls, valid = batch

    payload = assert_answered_in_the_api_format(post(sdk_client, "batch", json.dumps({"batch": calls}).encode()))

    rejected = {error["index"] for error in payload["errors"]}
    assert not rejected & set(valid), payload["errors"]
    for call in valid.values():
        if call["type"] == "identify":
            assert Lead.objects.filter(email=call["traits"]["email"]).exists()
        else:
            assert Activity.objects.filter(source_system="segment", external_id=call["messageId"]).exists()
    assert not PendingSegmentEvent.objects.filter(user_id__in=[call["userId"] for call in valid.values()]).exists()
