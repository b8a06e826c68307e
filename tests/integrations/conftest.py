import pytest
from rest_framework.test import APIClient

from access.services import user_issue_token
from integrations.models import Integration
from integrations.services import integration_create


@pytest.fixture
def admin_api(make_user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_issue_token(user=make_user('ingest', 'revops_admin'))}")
    return client


@pytest.fixture
def analyst_api(make_user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_issue_token(user=make_user('ana', 'analyst'))}")
    return client


@pytest.fixture
def segment(db) -> Integration:
    return integration_create(kind="segment", name="product")
