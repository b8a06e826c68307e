"""Schemathesis against the OpenAPI schema served at /api/schema/: every operation, authenticated, in-process.

No input may yield a 500, every status code must be documented, and every body must match its schema.
Schemathesis' own pytest plugin does not run under pytest 9 (it writes ``Node._nodeid``), so each
operation is a parametrized Hypothesis test that draws positive and negative cases from schemathesis.
"""

import io
import json
from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.settings import spectacular_settings
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from access.services import user_issue_token
from integrations.services import history_import_file
from jobs.services import job_create
from leads.models import Lead
from leads.services import ruleset_create
from opportunities.models import Opportunity

from .conftest import FUZZ_SETTINGS

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
HISTORY = """email,company_domain,source,created_at,qualified_at,opportunity_at,qo_at,won_at,lost_at,disqualified_at
open@acme.example,acme.example,inbound,2026-01-05,2026-01-06,2026-01-07,,,,
qualified@acme.example,acme.example,inbound,2026-01-05,2026-01-06,2026-01-07,2026-01-08,,,
won@beta.example,beta.example,product,2026-01-05,2026-01-06,2026-01-07,2026-01-08,2026-01-20,,
lost@beta.example,,chat,2026-01-05,2026-01-06,2026-01-07,2026-01-08,,2026-01-20,
dq@gamma.example,,inbound,2026-01-05,2026-01-06,2026-01-07,,,,2026-01-09
lead@gamma.example,,inbound,2026-01-05,,,,,,
"""
RULESET = {
    "name": "Fuzz",
    "fit_threshold": 40,
    "intent_threshold": 20,
    "fit_rules": [{"label": "Big", "field": "account.employee_count", "op": "gte", "value": 50, "points": 40}],
    "intent_rules": [{"label": "Demo", "kind": "form", "names": ["Demo Request"], "points": 40}],
    "buckets": [{"key": "P1", "label": "High", "sla_hours": 1}],
}


def _generated_schema() -> dict[str, Any]:
    """The document /api/schema/ serves, built without a request: collection has no database for a login."""
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS()
    return cast(
        dict[str, Any], json.loads(OpenApiJsonRenderer().render(generator.get_schema(request=None, public=True)))
    )


API_SCHEMA = schemathesis.openapi.from_dict(_generated_schema())
API_SCHEMA.app = WSGIHandler()


def _operations() -> list[APIOperation]:
    """Every operation of the schema; one schemathesis cannot read fails collection."""
    operations = []
    for result in API_SCHEMA.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    return operations


OPERATIONS = _operations()


@pytest.fixture
def in_process_requests() -> Iterator[None]:
    """Django closes connections around each WSGI request, which would end the test transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(make_user) -> str:
    return user_issue_token(user=make_user("fuzz-admin", "revops_admin"))


@pytest.fixture
def real_ids(admin_token) -> dict[str, list[int]]:
    """Ids of seeded rows by path prefix, so path parameters also reach real objects."""
    history_import_file(lines=io.StringIO(HISTORY), name="fuzz.csv")
    return {
        "/api/v1/leads/": list(Lead.objects.values_list("pk", flat=True)),
        "/api/v1/opportunities/": list(Opportunity.objects.values_list("pk", flat=True)),
        "/api/v1/jobs/": [job_create(kind="fuzz").pk],
        "/api/v1/rulesets/": [ruleset_create(document=RULESET).pk],
    }


def test_the_fuzzed_schema_is_the_served_one(client, admin_token):
    response = client.get("/api/schema/?format=json", HTTP_AUTHORIZATION=f"Token {admin_token}")

    assert response.status_code == 200
    assert response.json() == _generated_schema()


def cases(operation: APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))


def point_at_real_object(case: schemathesis.Case, real_ids: dict[str, list[int]], data: st.DataObject) -> None:
    if "id" not in (case.path_parameters or {}):
        return
    seeded = next((ids for prefix, ids in real_ids.items() if case.path.startswith(prefix)), [])
    use_real_id = data.draw(st.booleans(), label="use a real id")
    if seeded and use_real_id:
        case.path_parameters["id"] = data.draw(st.sampled_from(seeded), label="real id")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
@FUZZ_SETTINGS
@given(data=st.data())
def test_operation_conforms_to_the_schema(operation, data, in_process_requests, admin_token, real_ids):
    case = data.draw(cases(operation), label="case")
    point_at_real_object(case, real_ids, data)
    cache.clear()  # throttling counts requests per token: a long run must not turn into 429s
    case.call_and_validate(headers={"Authorization": f"Token {admin_token}"}, checks=CHECKS)


# Inputs PostgreSQL refused with a 500 before they were handled; SQLite accepts them all.
@pytest.mark.parametrize("path", ["/api/v1/leads/?source=in%00bound", "/api/v1/opportunities/?owner=%00"])
def test_a_nul_in_a_filter_finds_nothing(client, admin_token, path):
    response = client.get(path, HTTP_AUTHORIZATION=f"Token {admin_token}")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_nul_in_a_body_is_stored_as_the_replacement_character(client, admin_token):
    ruleset = {**RULESET, "name": "Fuzz\u0000"}

    response = client.post(
        "/api/v1/rulesets/", ruleset, content_type="application/json", HTTP_AUTHORIZATION=f"Token {admin_token}"
    )

    assert response.status_code == 201
    assert response.json()["name"] == "Fuzz\ufffd"


def test_an_offset_beyond_sixteen_hours_is_stored_as_its_instant(client, admin_token):
    meeting = {"email": "far@east.example", "booked_at": "2026-01-05T20:00:00+19:54"}

    response = client.post(
        "/api/v1/meetings/", meeting, content_type="application/json", HTTP_AUTHORIZATION=f"Token {admin_token}"
    )

    assert response.status_code == 201
    assert Opportunity.objects.get(pk=response.json()["opportunity_id"]).created_at.isoformat() == (
        "2026-01-05T00:06:00+00:00"
    )
