"""The official Segment SDK, unchanged, against the running app."""

import pytest
from segment.analytics import Client
from segment.analytics import request as segment_request
from segment.analytics.request import APIError

from integrations.models import SegmentIdentity
from integrations.services import integration_create
from leads.models import Account, Activity, Lead

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _close_sdk_connections():
    """The SDK keeps one module-wide HTTP session: close its keep-alive sockets with the test,
    so the live server's request threads (and their database connections) end with it."""
    yield
    segment_request._session.close()


@pytest.mark.parametrize("gzip", [False, True])
def test_the_official_python_sdk_works_against_a_live_server(live_server, gzip):
    write_key = integration_create(kind="segment", name="sdk").secret
    errors: list[Exception] = []
    client = Client(
        write_key,
        host=f"{live_server.url}/segment",
        gzip=gzip,
        max_retries=0,
        on_error=lambda error, batch: errors.append(error),
    )

    client.track("user-1", "Pricing Page Viewed", {"plan": "free"}, message_id="early-1")
    client.identify("user-1", {"email": "Ada@Acme.Example", "firstName": "Ada", "title": "CTO"})
    client.group("user-1", "acct-1", {"name": "Acme", "website": "acme.example", "employees": 120})
    client.track("user-1", "Workspace Limit Reached", {"activity_kind": "product"}, message_id="limit-1")
    client.track("user-1", "Workspace Limit Reached", {"activity_kind": "product"}, message_id="limit-1")
    client.flush()
    client.shutdown()

    assert errors == []
    lead = Lead.objects.get(email="ada@acme.example")
    assert (lead.first_name, lead.title) == ("Ada", "CTO")
    assert SegmentIdentity.objects.get(user_id="user-1").lead == lead
    assert Account.objects.get(domain="acme.example").employee_count == 120
    assert sorted(Activity.objects.values_list("external_id", "name")) == [
        ("early-1", "Pricing Page Viewed"),
        ("limit-1", "Workspace Limit Reached"),
    ]


def test_the_sdk_gets_a_401_for_a_wrong_write_key(live_server):
    client = Client("not-a-key", host=f"{live_server.url}/segment", sync_mode=True, max_retries=0)

    with pytest.raises(APIError) as refused:
        client.track("user-1", "Login")

    assert refused.value.status == 401
    assert Activity.objects.count() == 0
