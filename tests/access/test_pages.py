import logging
import sys

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from funnel.log_filters import ClientErrorsWithoutTraceback

PASSWORD = "a-long-test-password"

PAGES = {
    "reporting:dashboard": ({"analyst", "revops_admin"}, "<h1>Dashboard</h1>"),
    "opportunities:list": ({"sales_rep", "analyst", "revops_admin"}, "<h1>Opportunities</h1>"),
    "leads:list": ({"sales_rep", "analyst", "revops_admin"}, "<h1>Leads</h1>"),
    "opportunities:queue": ({"sales_rep", "analyst", "revops_admin"}, "<h1>Qualification queue</h1>"),
    "opportunities:calibration": ({"revops_admin"}, "<h1>Disqualification calibration</h1>"),
}
ROLES = ["analyst", "sales_rep", "revops_admin"]


@pytest.fixture
def login(client, make_user):
    def log_in(role: str | None) -> User:
        if role is None:
            user = User.objects.create_user(username="no-role", password=PASSWORD)
        else:
            user = make_user(username=f"{role}-user", role=role)
        assert client.login(username=user.username, password=PASSWORD)
        return user

    return log_in


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", PAGES)
def test_anonymous_visitors_are_sent_to_log_in_and_come_back(client, url_name):
    url = reverse(url_name)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url_name", PAGES)
def test_each_page_opens_for_its_roles_and_refuses_the_others(client, login, url_name, role):
    allowed_roles, heading = PAGES[url_name]
    login(role)

    response = client.get(reverse(url_name))

    if role in allowed_roles:
        assert response.status_code == 200
        assert heading in response.content.decode()
    else:
        assert response.status_code == 403
        assert "This page is not part of your role" in response.content.decode()


@pytest.mark.parametrize("url_name", PAGES)
def test_a_user_without_a_role_is_refused_every_page_with_an_explanation(client, login, url_name):
    login(None)

    response = client.get(reverse(url_name))

    assert response.status_code == 403
    assert "Your account has no role yet" in response.content.decode()


def test_home_shows_a_user_without_a_role_the_no_role_page(client, login):
    login(None)

    response = client.get(reverse("home"))

    assert response.status_code == 403
    assert "access/no_role.html" in [template.name for template in response.templates]
    content = response.content.decode()
    assert "Your account has no role yet" in content
    assert "Ask a RevOps admin" in content


@pytest.mark.parametrize(
    ("role", "landing"),
    [("analyst", "reporting:dashboard"), ("revops_admin", "reporting:dashboard"), ("sales_rep", "opportunities:queue")],
)
def test_home_sends_each_role_to_its_landing_page(client, login, role, landing):
    login(role)

    response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response["Location"] == reverse(landing)


@pytest.mark.django_db
def test_home_sends_anonymous_visitors_to_log_in(client):
    response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("analyst", ["Dashboard", "Opportunities", "Leads"], ["Admin"]),
        ("sales_rep", ["Queue", "Opportunities", "Leads"], ["Dashboard", "Admin"]),
        ("revops_admin", ["Dashboard", "Queue", "Opportunities", "Leads", "Admin"], []),
    ],
)
def test_navigation_shows_the_pages_of_the_role(client, login, role, shown, hidden):
    login(role)
    links = {
        "Dashboard": "/dashboard/",
        "Queue": "/opportunities/queue/",
        "Opportunities": "/opportunities/",
        "Leads": "/leads/",
        "Admin": "/admin/",
    }

    content = client.get(reverse("leads:list") if role == "sales_rep" else reverse("reporting:dashboard")).content
    nav = content.decode().split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]

    for label in shown:
        assert f'<a href="{links[label]}"' in nav
    for label in hidden:
        assert f'href="{links[label]}"' not in nav


def test_layout_has_landmarks_the_user_their_role_and_a_log_out_form(client, login):
    login("sales_rep")

    content = client.get(reverse("leads:list")).content.decode()

    assert '<a class="skip-link" href="#main">' in content
    assert '<main id="main"' in content
    assert "sales_rep-user" in content
    assert "Sales rep" in content
    assert '<a href="/leads/" aria-current="page">Leads</a>' in content
    logout_form = content.split(f'action="{reverse("logout")}"', 1)[1].split("</form>", 1)[0]
    assert 'name="csrfmiddlewaretoken"' in logout_form
    assert "Log out" in logout_form
    assert "css/funnel.css" in content


def test_logging_out_ends_the_session(client, login):
    login("analyst")

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("reporting:dashboard")).status_code == 302


@pytest.mark.django_db
def test_login_page_labels_its_fields_and_explains_the_product(client):
    content = client.get(reverse("login")).content.decode()

    assert "Log in" in content
    assert '<label for="id_username">' in content
    assert '<label for="id_password">' in content
    assert 'autocomplete="current-password"' in content
    assert "Funnel qualifies every lead on fit and intent" in content


def test_a_wrong_password_is_reported_as_an_alert(client, make_user):
    make_user(username="ada", role="analyst")

    response = client.post(reverse("login"), {"username": "ada", "password": "not-the-password"})

    assert response.status_code == 200
    content = response.content.decode()
    assert 'role="alert"' in content
    assert "Please enter a correct username and password" in content


def test_logging_in_lands_on_the_page_of_the_role(client, make_user):
    make_user(username="rep", role="sales_rep")

    response = client.post(reverse("login"), {"username": "rep", "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("opportunities:queue")
    assert response.status_code == 200


def test_logging_in_returns_to_the_page_asked_for(client, make_user):
    make_user(username="analyst", role="analyst")

    response = client.post(reverse("login"), {"username": "analyst", "password": PASSWORD, "next": "/leads/"})

    assert response["Location"] == "/leads/"


def test_an_unknown_address_gets_the_not_found_page_in_the_layout(client, login):
    login("analyst")

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    content = response.content.decode()
    assert "Page not found" in content
    assert '<nav class="site-nav"' in content


@pytest.mark.django_db
def test_the_not_found_page_works_for_anonymous_visitors(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_the_server_error_page_needs_no_request_context_nor_database():
    response = server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_the_stylesheet_is_a_local_static_file():
    assert finders.find("css/funnel.css") is not None


def test_only_the_most_specific_page_is_marked_current(client, login):
    login("sales_rep")

    nav = client.get(reverse("opportunities:queue")).content.decode().split('<nav class="site-nav"', 1)[1]
    nav = nav.split("</nav>", 1)[0]

    assert '<a href="/opportunities/queue/" aria-current="page">' in nav
    assert '<a href="/opportunities/">' in nav


def test_a_refused_page_is_logged_in_one_line_without_a_traceback(client, login, caplog):
    login("sales_rep")

    with caplog.at_level("WARNING", logger="django.request"):
        response = client.get(reverse("opportunities:calibration"))

    assert response.status_code == 403
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == f"Forbidden (Permission denied): {reverse('opportunities:calibration')}"
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_a_server_error_keeps_its_traceback_in_the_log():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error", (), sys.exc_info()
        )
    record.status_code = 500

    assert ClientErrorsWithoutTraceback().filter(record)
    assert record.exc_info is not None
