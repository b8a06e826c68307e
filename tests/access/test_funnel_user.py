from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from access.roles import roles_of

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("funnel_user", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_creates_a_user_with_a_role_and_a_password(client):
    lines = run("rita", "--role", "sales_rep", "--password", "a-long-rep-password")

    assert lines == ["Created user 'rita' with role sales_rep."]
    assert roles_of(User.objects.get(username="rita")) == {"sales_rep"}
    assert client.login(username="rita", password="a-long-rep-password")


def test_token_is_printed_on_the_last_line_and_authenticates_the_api():
    lines = run("bot", "--role", "analyst", "--token")

    user = User.objects.get(username="bot")
    assert lines[-1] == Token.objects.get(user=user).key
    assert len(lines[-1]) == 40


def test_running_again_changes_the_role_and_keeps_the_password(client):
    run("sam", "--role", "analyst", "--password", "first-long-password")

    lines = run("sam", "--role", "revops_admin")

    user = User.objects.get(username="sam")
    assert lines == ["Updated user 'sam' with role revops_admin."]
    assert roles_of(user) == {"revops_admin"}
    assert user.is_staff
    assert client.login(username="sam", password="first-long-password")


def test_the_same_token_is_printed_twice():
    first = run("bot", "--role", "analyst", "--token")[-1]
    assert run("bot", "--role", "analyst", "--token")[-1] == first


def test_an_unknown_role_is_refused():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("funnel_user", "eve", "--role", "hacker")
    assert not User.objects.filter(username="eve").exists()


def test_a_user_without_a_password_cannot_log_in(client):
    run("nopass", "--role", "analyst")
    assert not client.login(username="nopass", password="")


def test_admins_may_manage_raw_records_in_the_django_admin(client):
    run("boss", "--role", "revops_admin", "--password", "a-long-admin-password")
    client.login(username="boss", password="a-long-admin-password")

    assert client.get("/admin/leads/lead/").status_code == 200
    assert client.get("/admin/opportunities/reasoncode/add/").status_code == 200


def test_the_transition_log_is_read_only_in_the_admin(client):
    run("boss", "--role", "revops_admin", "--password", "a-long-admin-password")
    client.login(username="boss", password="a-long-admin-password")

    assert client.get("/admin/leads/stagetransition/").status_code == 200
    assert client.get("/admin/leads/stagetransition/add/").status_code == 403


def test_analysts_cannot_open_the_django_admin(client):
    run("ana", "--role", "analyst", "--password", "a-long-analyst-password")
    client.login(username="ana", password="a-long-analyst-password")

    response = client.get("/admin/leads/lead/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
