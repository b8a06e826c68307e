"""Brute force against the login (django-axes): a username is locked from one address for a while."""

from datetime import timedelta

import pytest
from axes.backends import AxesStandaloneBackend
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.db.models import F
from django.test import Client
from django.utils.module_loading import import_string

PASSWORD = "the-right-long-password"
ATTACKER = "203.0.113.7"
COLLEAGUE = "198.51.100.20"


@pytest.fixture
def ana(make_user):
    return make_user("ana", role="analyst", password=PASSWORD)


def log_in(username: str, password: str, *, address: str = ATTACKER, path: str = "/accounts/login/"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def fail_until_locked(username: str = "ana", *, address: str = ATTACKER) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert log_in(username, "wrong-password", address=address).status_code in {200, 429}


def age_attempts_by(delta: timedelta) -> None:
    """Time travel: the failed attempts happened ``delta`` earlier."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - delta)


def test_the_limit_and_cool_off_are_set_so_a_lockout_ends():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AXES_RESET_ON_SUCCESS is True


def test_bad_passwords_below_the_limit_show_the_login_form_again(ana):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = log_in("ana", "wrong-password")
        assert response.status_code == 200
        assert b"Please enter a correct username and password" in response.content

    assert log_in("ana", PASSWORD).status_code == 302


def test_after_the_limit_the_right_password_gets_a_page_saying_when_to_try_again(ana):
    fail_until_locked()

    response = log_in("ana", PASSWORD)

    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == str(15 * 60)
    page = response.content.decode()
    assert "Too many failed log-ins" in page
    assert "Try again in 15 minutes" in page
    assert "_auth_user_id" not in response.client.session


def test_once_the_cool_off_has_passed_the_right_password_works_again(ana):
    fail_until_locked()
    assert log_in("ana", PASSWORD).status_code == 429

    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=15, seconds=1)
    )

    assert log_in("ana", PASSWORD).status_code == 302


def test_a_lockout_holds_for_the_whole_cool_off(ana):
    fail_until_locked()

    age_attempts_by(timedelta(minutes=14))

    assert log_in("ana", PASSWORD).status_code == 429


def test_trying_again_during_the_lockout_starts_the_wait_again(ana):
    fail_until_locked()
    age_attempts_by(timedelta(minutes=14))
    assert log_in("ana", PASSWORD).status_code == 429

    age_attempts_by(timedelta(minutes=2))

    assert log_in("ana", PASSWORD).status_code == 429
    assert "starts the wait again" in log_in("ana", PASSWORD).content.decode()


def test_the_same_user_from_another_address_and_another_user_are_unaffected(ana, make_user):
    make_user("andre", role="analyst", password=PASSWORD)
    fail_until_locked()

    assert log_in("ana", PASSWORD, address=COLLEAGUE).status_code == 302
    assert log_in("andre", PASSWORD, address=ATTACKER).status_code == 302
    assert log_in("ana", PASSWORD, address=ATTACKER).status_code == 429


def test_a_successful_login_resets_the_count(ana):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("ana", "wrong-password")
    assert log_in("ana", PASSWORD).status_code == 302

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("ana", "wrong-password")

    assert log_in("ana", PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_too(make_user):
    make_user("boss", role="revops_admin", password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in("boss", "wrong-password", path="/admin/login/")

    response = log_in("boss", PASSWORD, path="/admin/login/")

    assert response.status_code == 429
    assert "Try again in 15 minutes" in response.content.decode()


def test_the_lockout_check_comes_before_the_password_check():
    first, *rest = settings.AUTHENTICATION_BACKENDS

    assert issubclass(import_string(first), AxesStandaloneBackend)
    assert rest == ["django.contrib.auth.backends.ModelBackend"]


def test_authenticating_without_a_request_checks_the_password_only(ana):
    fail_until_locked()

    assert authenticate(username="ana", password=PASSWORD) == ana
    assert authenticate(username="ana", password="wrong-password") is None
