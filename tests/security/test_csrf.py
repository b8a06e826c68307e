"""CSRF: every form the pages render carries the token, and its target refuses a POST without it.

The forms are found by rendering every page of the role matrix as each role that may open it and
reading its ``<form method="post">`` elements, so a new form is covered as soon as a page shows it.
"""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import resolve
from rest_framework.authtoken.models import Token

from tests.security.test_role_matrix import MATRIX, ROLES

TOKEN_FIELD = "csrfmiddlewaretoken"
PAGE_ROLES = ("analyst", "sales_rep", "revops_admin")


@dataclass
class Form:
    action: str
    enctype: str
    fields: dict[str, str] = field(default_factory=dict)


class PostForms(HTMLParser):
    """The POST forms of a page, with the values a browser would submit without any typing."""

    def __init__(self, page_path: str) -> None:
        super().__init__()
        self.page_path = page_path
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            if attributes.get("method", "get").lower() == "post":
                self._form = Form(attributes.get("action") or self.page_path, attributes.get("enctype", ""))
                self.forms.append(self._form)
            return
        if self._form is None or not attributes.get("name"):
            return
        name = attributes["name"]
        if tag == "input" and self._submitted(attributes):
            self._form.fields.setdefault(name, attributes.get("value", ""))
        elif tag == "select":
            self._select = name
            self._form.fields.setdefault(name, "")
        elif tag == "option" and self._select and ("selected" in attributes or not self._form.fields[self._select]):
            self._form.fields[self._select] = attributes.get("value", "")
        elif tag == "textarea":
            self._textarea = name
            self._form.fields.setdefault(name, "")
        elif tag == "button":
            self._form.fields.setdefault(name, attributes.get("value", ""))

    @staticmethod
    def _submitted(attributes: dict[str, str]) -> bool:
        kind = attributes.get("type", "text").lower()
        if kind in {"checkbox", "radio"}:
            return "checked" in attributes
        return kind not in {"submit", "button", "file", "reset", "image"}

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def page_routes_for(role: str) -> list[str]:
    return [
        route
        for (method, route), expected in MATRIX.items()
        if method == "GET" and not route.startswith("api/") and expected[ROLES.index(role)] == 200
    ]


PAGES = [(route, role) for role in PAGE_ROLES for route in page_routes_for(role)]


def signed_in_client(role: str, make_user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(f"{role}-user", role=role))
    return client


def post_forms(client: Client, path: str) -> list[Form]:
    response = client.get(path)
    assert response.status_code == 200, path
    parser = PostForms(urlsplit(path).path)
    parser.feed(response.content.decode())
    # Logging out ends the session the other forms need: it goes last.
    return sorted(parser.forms, key=lambda form: resolve(urlsplit(form.action).path).url_name == "logout")


def submit(client: Client, form: Form, *, with_token: bool):
    data = {name: value for name, value in form.fields.items() if with_token or name != TOKEN_FIELD}
    return client.post(form.action, data)


@pytest.mark.parametrize(("route", "role"), PAGES)
def test_every_form_on_the_page_needs_its_csrf_token(world, make_user, route, role):
    client = signed_in_client(role, make_user)
    forms = post_forms(client, world.path(route))

    for form in forms:
        assert form.fields.get(TOKEN_FIELD), f"{route}: the form posting to {form.action} has no CSRF token"
        refused = submit(client, form, with_token=False)
        assert refused.status_code == 403, f"{form.action} accepted a POST without a CSRF token"
        assert b"CSRF" in refused.content
        accepted = submit(client, form, with_token=True)
        assert accepted.status_code in {200, 302, 400}, f"{form.action} refused its own form: {accepted.status_code}"


def test_the_pages_show_a_form_for_every_page_action_of_the_matrix(world, make_user):
    posted_routes = {"accounts/login/"}
    for role in PAGE_ROLES:
        client = signed_in_client(role, make_user)
        for route in page_routes_for(role):
            for form in post_forms(client, world.path(route)):
                posted_routes.add(resolve(urlsplit(form.action).path).route)

    page_actions = {
        route
        for method, route in MATRIX
        if method == "POST" and not route.startswith(("api/", "segment/", "webhooks/"))
    }
    assert page_actions - posted_routes == set()


def test_the_login_form_needs_its_csrf_token(make_user):
    make_user("ana", role="analyst", password="a-long-test-password")
    client = Client(enforce_csrf_checks=True)
    (form,) = post_forms(client, "/accounts/login/")
    form.fields.update(username="ana", password="a-long-test-password")

    assert form.fields[TOKEN_FIELD]
    assert submit(client, form, with_token=False).status_code == 403
    assert submit(client, form, with_token=True).status_code == 302


NEW_LEAD = {"email": "new@lead.example"}


def test_api_writes_in_a_browser_session_need_the_csrf_token(make_user):
    client = signed_in_client("revops_admin", make_user)
    client.get("/leads/")
    token = client.cookies["csrftoken"].value

    without = client.post("/api/v1/leads/", NEW_LEAD, content_type="application/json")
    with_header = client.post("/api/v1/leads/", NEW_LEAD, content_type="application/json", HTTP_X_CSRFTOKEN=token)

    assert without.status_code == 403
    assert "CSRF" in without.json()["error"]["message"]
    assert with_header.status_code == 201


def test_api_writes_with_a_token_need_no_csrf_token(make_user):
    token, _ = Token.objects.get_or_create(user=make_user("integration", role="revops_admin"))
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token.key}")

    assert client.post("/api/v1/leads/", NEW_LEAD, content_type="application/json").status_code == 201
