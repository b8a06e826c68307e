"""A database that cannot be reached: pages and the API answer a clean 503 the client may retry."""

import logging
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest
from django.db import InterfaceError, OperationalError, connections
from django.test import RequestFactory
from rest_framework.test import APIClient

from access.middleware import DatabaseUnavailableMiddleware
from access.services import user_issue_token

REFUSED = "connection to server at 127.0.0.1, port 5432 failed: Connection refused\n\tIs the server running?"


@pytest.fixture
def take_database_down(db: None) -> Iterator[Callable[[], None]]:
    """Refuses every query until the test ends; restored before the test's transaction rolls back."""

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise OperationalError(REFUSED)

    connection = connections["default"]
    yield lambda: setattr(connection, "cursor", refuse)
    connection.__dict__.pop("cursor", None)


@pytest.fixture
def admin_api(make_user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {user_issue_token(user=make_user('ops', 'revops_admin'))}")
    return api


def test_a_page_answers_a_short_503_page_when_the_database_is_down(client, make_user, take_database_down, caplog):
    client.force_login(make_user("ana", "analyst"))
    take_database_down()

    with caplog.at_level(logging.WARNING, logger="access.api"):
        response = client.get("/dashboard/")

    body = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    assert "briefly unavailable" in body
    assert "Traceback" not in body
    assert [record.getMessage() for record in caplog.records if record.name == "access.api"] == [
        "Database unavailable for GET /dashboard/: connection to server at 127.0.0.1, port 5432 failed: "
        "Connection refused"
    ]


def test_the_api_answers_503_in_its_error_format_when_the_database_is_down(admin_api, take_database_down):
    take_database_down()
    read = admin_api.get("/api/v1/leads/")
    write = admin_api.post("/api/v1/activities/", {"email": "a@acme.example", "kind": "form", "name": "Demo"})

    for response in (read, write):
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert response.json() == {
            "error": {
                "code": "database_unavailable",
                "message": "The database is unavailable. Try again in a few seconds.",
                "fields": {},
            }
        }


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), InterfaceError("closed")])
def test_the_middleware_answers_503_for_database_errors_of_a_plain_view(rf: RequestFactory, error):
    middleware = DatabaseUnavailableMiddleware(lambda request: NotImplemented)

    api = middleware.process_exception(rf.get("/api/v1/something"), error)
    page = middleware.process_exception(rf.get("/leads/1/"), error)

    assert api is not None
    assert page is not None
    assert (api.status_code, api["Content-Type"]) == (503, "application/json")
    assert (page.status_code, page["Retry-After"]) == (503, "5")


def test_the_middleware_leaves_other_errors_to_django(rf: RequestFactory):
    middleware = DatabaseUnavailableMiddleware(lambda request: NotImplemented)

    assert middleware.process_exception(rf.get("/leads/1/"), ValueError("a bug")) is None
