"""Who may do what: every URL of the project, every method it serves, for every role.

A URL pattern added to the project fails ``test_every_url_pattern_has_an_expectation`` until it
gets rows in MATRIX (or a reason in EXCLUDED). Pages send anonymous visitors to the login page;
the API answers them 401. A signed-in user without the page's role, or without any role, gets 403.
"""

import copy
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from tests.leads.test_scoring import DOCUMENT
from tests.security.objects import PATH_OBJECTS, World

LOGIN = "login"  # 302 to the login page, coming back afterwards
NO_ROLE = "no_role"  # signed in, but in none of the role groups
ROLES = ("anonymous", "analyst", "sales_rep", "revops_admin", NO_ROLE)

# method, route                                        anonymous  analyst  sales_rep  revops_admin  no_role
MATRIX: dict[tuple[str, str], tuple[int | str, int, int, int, int]] = {
    # Access: the landing redirect, login and logout, the liveness probe.
    ("GET", ""):                                             (LOGIN, 302, 302, 302, 403),
    ("GET", "accounts/login/"):                              (200, 302, 302, 302, 302),
    ("POST", "accounts/login/"):                             (200, 302, 302, 302, 302),
    ("POST", "accounts/logout/"):                            (302, 302, 302, 302, 302),
    ("GET", "healthz"):                                      (200, 200, 200, 200, 200),
    # Pages.
    ("GET", "leads/"):                                       (LOGIN, 200, 200, 200, 403),
    ("GET", "leads/<int:pk>/"):                              (LOGIN, 200, 200, 200, 403),
    ("GET", "opportunities/"):                               (LOGIN, 200, 200, 200, 403),
    ("GET", "opportunities/queue/"):                         (LOGIN, 200, 200, 200, 403),
    ("GET", "opportunities/calibration/"):                   (LOGIN, 403, 403, 200, 403),
    ("GET", "opportunities/<int:pk>/"):                      (LOGIN, 200, 200, 200, 403),
    ("POST", "opportunities/<int:pk>/<slug:action>/"):       (LOGIN, 403, 302, 302, 403),
    ("GET", "opportunities/<int:pk>/<slug:action>/"):        (405, 405, 405, 405, 405),
    ("POST", "opportunities/<int:pk>/reassign/"):            (LOGIN, 403, 403, 302, 403),
    ("GET", "opportunities/<int:pk>/reassign/"):             (405, 405, 405, 405, 405),
    ("GET", "dashboard/"):                                   (LOGIN, 200, 403, 200, 403),
    ("GET", "dashboard/cells/"):                             (LOGIN, 200, 403, 200, 403),
    ("POST", "dashboard/refresh/"):                          (LOGIN, 302, 403, 302, 403),
    ("GET", "dashboard/refresh/"):                           (405, 405, 405, 405, 405),
    ("GET", "rules/"):                                       (LOGIN, 403, 403, 200, 403),
    ("POST", "rules/drafts/"):                               (LOGIN, 403, 403, 302, 403),
    ("GET", "rules/drafts/"):                                (LOGIN, 403, 403, 405, 403),
    ("GET", "rules/<int:pk>/"):                              (LOGIN, 403, 403, 200, 403),
    ("GET", "rules/<int:pk>/edit/"):                         (LOGIN, 403, 403, 200, 403),
    ("POST", "rules/<int:pk>/edit/"):                        (LOGIN, 403, 403, 200, 403),
    ("GET", "rules/<int:pk>/preview/"):                      (LOGIN, 403, 403, 200, 403),
    ("GET", "rules/<int:pk>/publish/"):                      (LOGIN, 403, 403, 200, 403),
    ("POST", "rules/<int:pk>/publish/"):                     (LOGIN, 403, 403, 302, 403),
    ("GET", "rules/jobs/<int:pk>/"):                         (LOGIN, 403, 403, 200, 403),
    ("GET", "integrations/import/"):                         (LOGIN, 403, 403, 200, 403),
    ("POST", "integrations/import/"):                        (LOGIN, 403, 403, 302, 403),
    ("GET", "integrations/import/<int:pk>/"):                (LOGIN, 403, 403, 200, 403),
    # The API: every role reads leads, opportunities and jobs; reports are the analysts';
    # reps work opportunities; ingestion and rules are the admins'.
    ("GET", "api/schema/"):                                  (401, 200, 200, 200, 200),
    ("GET", "api/docs/"):                                    (401, 200, 200, 200, 200),
    ("GET", "api/v1/jobs/<int:pk>/"):                        (401, 200, 200, 200, 403),
    ("POST", "api/v1/jobs/<int:pk>/"):                       (401, 405, 405, 405, 403),
    ("GET", "api/v1/leads/"):                                (401, 200, 200, 200, 403),
    ("POST", "api/v1/leads/"):                               (401, 403, 403, 201, 403),
    ("GET", "api/v1/leads/<int:pk>/"):                       (401, 200, 200, 200, 403),
    ("POST", "api/v1/leads/<int:pk>/"):                      (401, 405, 405, 405, 403),
    ("GET", "api/v1/activities/"):                           (401, 200, 200, 200, 403),
    ("POST", "api/v1/activities/"):                          (401, 403, 403, 201, 403),
    ("GET", "api/v1/activities/batch/"):                     (401, 405, 405, 405, 403),
    ("POST", "api/v1/activities/batch/"):                    (401, 403, 403, 200, 403),
    ("GET", "api/v1/meetings/"):                             (401, 405, 405, 405, 403),
    ("POST", "api/v1/meetings/"):                            (401, 403, 403, 201, 403),
    ("GET", "api/v1/opportunities/"):                        (401, 200, 200, 200, 403),
    ("POST", "api/v1/opportunities/"):                       (401, 405, 405, 405, 403),
    ("GET", "api/v1/opportunities/<int:pk>/"):               (401, 200, 200, 200, 403),
    ("POST", "api/v1/opportunities/<int:pk>/"):              (401, 405, 405, 405, 403),
    ("POST", "api/v1/opportunities/<int:pk>/qualify/"):      (401, 403, 200, 200, 403),
    ("GET", "api/v1/opportunities/<int:pk>/qualify/"):       (401, 403, 405, 405, 403),
    ("POST", "api/v1/opportunities/<int:pk>/disqualify/"):   (401, 403, 200, 200, 403),
    ("GET", "api/v1/opportunities/<int:pk>/disqualify/"):    (401, 403, 405, 405, 403),
    ("POST", "api/v1/opportunities/<int:pk>/win/"):          (401, 403, 200, 200, 403),
    ("GET", "api/v1/opportunities/<int:pk>/win/"):           (401, 403, 405, 405, 403),
    ("POST", "api/v1/opportunities/<int:pk>/lose/"):         (401, 403, 200, 200, 403),
    ("GET", "api/v1/opportunities/<int:pk>/lose/"):          (401, 403, 405, 405, 403),
    ("GET", "api/v1/reports/weekly/"):                       (401, 200, 403, 200, 403),
    ("POST", "api/v1/reports/weekly/"):                      (401, 405, 403, 405, 403),
    ("GET", "api/v1/reports/weekly.csv"):                    (401, 200, 403, 200, 403),
    ("POST", "api/v1/reports/weekly.csv"):                   (401, 405, 403, 405, 403),
    ("POST", "api/v1/reports/weekly/refresh/"):              (401, 202, 403, 202, 403),
    ("GET", "api/v1/reports/weekly/refresh/"):               (401, 405, 403, 405, 403),
    ("GET", "api/v1/rulesets/"):                             (401, 403, 403, 200, 403),
    ("POST", "api/v1/rulesets/"):                            (401, 403, 403, 201, 403),
    ("GET", "api/v1/rulesets/active/"):                      (401, 403, 403, 200, 403),
    ("POST", "api/v1/rulesets/active/"):                     (401, 403, 403, 405, 403),
    ("GET", "api/v1/rulesets/<int:pk>/"):                    (401, 403, 403, 200, 403),
    ("POST", "api/v1/rulesets/<int:pk>/"):                   (401, 403, 403, 405, 403),
    ("POST", "api/v1/rulesets/<int:pk>/preview/"):           (401, 403, 403, 200, 403),
    ("GET", "api/v1/rulesets/<int:pk>/preview/"):            (401, 403, 403, 405, 403),
    ("POST", "api/v1/rulesets/<int:pk>/publish/"):           (401, 403, 403, 202, 403),
    ("GET", "api/v1/rulesets/<int:pk>/publish/"):            (401, 403, 403, 405, 403),
    # Doors with their own credentials: a user's session or token opens none of them.
    ("POST", "segment/v1/batch"):                            (401, 401, 401, 401, 401),
    ("POST", "segment/v1/track"):                            (401, 401, 401, 401, 401),
    ("POST", "segment/v1/identify"):                         (401, 401, 401, 401, 401),
    ("POST", "segment/v1/group"):                            (401, 401, 401, 401, 401),
    ("POST", "webhooks/calendly/"):                          (401, 401, 401, 401, 401),
    ("POST", "webhooks/hubspot/"):                           (401, 401, 401, 401, 401),
    ("POST", "webhooks/intercom/"):                          (401, 401, 401, 401, 401),
}  # fmt: skip

EXCLUDED = {
    "admin/": "the Django admin has its own login and staff check (the door is checked below)",
    "readyz": "public readiness probe: 200 or 503 by the database's and broker's health (tests/access/test_health.py)",
}
# Static files have no URL pattern: WhiteNoise serves them from its middleware.

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "accounts/login/"): {"username": "nobody", "password": "wrong"},
    ("POST", "opportunities/<int:pk>/reassign/"): {"owner": ""},
    ("POST", "api/v1/leads/"): {"email": "new@lead.example"},
    ("POST", "api/v1/activities/"): {"email": "new@lead.example", "kind": "form", "name": "Demo Request"},
    ("POST", "api/v1/activities/batch/"): {
        "activities": [{"email": "new@lead.example", "kind": "form", "name": "Demo Request", "external_id": "a1"}]
    },
    ("POST", "api/v1/meetings/"): {"email": "new@lead.example", "external_id": "m1"},
    ("POST", "api/v1/opportunities/<int:pk>/disqualify/"): {"reason": "not_icp"},
    ("POST", "api/v1/opportunities/<int:pk>/win/"): {"amount": "1000.00"},
    ("POST", "api/v1/opportunities/<int:pk>/lose/"): {"reason": "timing"},
    ("POST", "api/v1/rulesets/"): copy.deepcopy(DOCUMENT),
    ("POST", "api/v1/rulesets/<int:pk>/preview/"): {"weeks": 1},
}
UPLOADS = {("POST", "integrations/import/"): ("history.csv", b"email\nada@engines.example\n")}

API_PREFIX = "api/"


def url_routes() -> set[str]:
    """Every route of the project's URLconf, prefixes joined."""

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> set[str]:
        routes: set[str] = set()
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                routes |= walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                routes.add(prefix + str(pattern.pattern))
        return routes

    return walk(get_resolver().url_patterns, "")


def is_excluded(route: str) -> bool:
    return any(route.startswith(prefix) for prefix in EXCLUDED)


def test_every_url_pattern_has_an_expectation():
    routes = url_routes()
    tested = {route for _, route in MATRIX}

    assert sorted(route for route in routes if not is_excluded(route) and route not in tested) == []
    assert sorted(tested - routes) == [], "rows for routes that no longer exist"
    assert sorted(set(PATH_OBJECTS) - routes) == []
    assert sorted(route for route in tested if "<" in route and route not in PATH_OBJECTS) == []


def client_as(role: str, route: str, make_user) -> Client:
    client = Client()
    if role == "anonymous":
        return client
    user = User.objects.create_user("no-role-user") if role == NO_ROLE else make_user(f"{role}-user", role=role)
    if route.startswith("api/v1/"):
        token, _ = Token.objects.get_or_create(user=user)
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    else:
        client.force_login(user)
    return client


def send(client: Client, method: str, route: str, world: World):
    path = world.path(route)
    if (method, route) in UPLOADS:
        name, content = UPLOADS[method, route]
        return client.post(path, {"file": SimpleUploadedFile(name, content, content_type="text/csv")})
    body = BODIES.get((method, route), {})
    if route.startswith(API_PREFIX) or route.startswith(("segment/", "webhooks/")):
        return client.generic(method, path, json.dumps(body), content_type="application/json")
    return client.generic(method, path) if method == "GET" else client.post(path, body)


def answer(response: HttpResponse) -> int | str:
    if response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/"):
        return LOGIN
    return response.status_code


def answer_as(role: str, method: str, route: str, world: World, make_user) -> int | str:
    """The answer ``role`` gets; whatever the request changed is rolled back for the next role."""
    with transaction.atomic():
        response = send(client_as(role, route, make_user), method, route, world)
        transaction.set_rollback(True)
    return answer(response)


@pytest.mark.parametrize(("method", "route"), list(MATRIX))
def test_each_role_gets_the_expected_answer(world, make_user, method, route):
    answers = {role: answer_as(role, method, route, world, make_user) for role in ROLES}

    assert answers == dict(zip(ROLES, MATRIX[method, route], strict=True))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_no_api_route_changes_or_deletes_through_other_methods(world, make_user, method):
    answers = {
        route: send(client_as("revops_admin", route, make_user), method, route, world).status_code
        for route in sorted(url_routes())
        if route.startswith("api/v1/")
    }

    assert {route: status for route, status in answers.items() if status != 405} == {}


ADMIN_DOORS = {"admin/login/", "admin/logout/"}


def test_every_admin_page_sends_anonymous_visitors_to_the_admin_login(db):
    pages = sorted(route for route in url_routes() if route.startswith("admin/") and "<" not in route)
    answers = {route: Client().get("/" + route) for route in pages if route not in ADMIN_DOORS}

    assert len(answers) > 10
    assert {
        route: response.status_code
        for route, response in answers.items()
        if response.status_code != 302 or not response["Location"].startswith("/admin/login/?next=/admin/")
    } == {}


@pytest.mark.parametrize("role", ["analyst", "sales_rep"])
def test_the_admin_refuses_users_who_are_not_revops_admins(make_user, role):
    client = Client()
    client.force_login(make_user(f"{role}-user", role=role))

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_revops_admin_opens_the_admin(make_user):
    client = Client()
    client.force_login(make_user("boss", role="revops_admin"))

    assert client.get("/admin/").status_code == 200


def test_the_readiness_probe_answers_without_credentials(db):
    assert Client().get("/readyz").status_code in {200, 503}
