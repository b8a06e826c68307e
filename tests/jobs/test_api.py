import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jobs.services import job_advance, job_create, job_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(make_user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=make_user("ana", role="analyst"))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_a_job_shows_its_progress(api):
    job = job_create(kind="report_rebuild")
    job_start(job_id=job.pk, total=4)
    job_advance(job_id=job.pk, by=1)

    response = api.get(f"/api/v1/jobs/{job.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["done"], body["total"], body["percent"]) == ("running", 1, 4, 25)


def test_without_credentials_the_api_answers_401_in_the_error_format():
    job = job_create(kind="report_rebuild")

    response = APIClient().get(f"/api/v1/jobs/{job.pk}/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_bad_token_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get("/api/v1/jobs/1/")

    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_a_user_without_a_role_is_forbidden(make_user):
    from django.contrib.auth.models import User

    client = APIClient()
    client.force_authenticate(User.objects.create_user("norole"))

    response = client.get(f"/api/v1/jobs/{job_create(kind='x').pk}/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_an_unknown_job_is_a_json_404(api):
    response = api.get("/api/v1/jobs/999999/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
