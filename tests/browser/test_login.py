import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-browser-password"


@pytest.mark.parametrize(
    ("role", "landing", "heading"),
    [("analyst", "/dashboard/", "Dashboard"), ("sales_rep", "/opportunities/queue/", "Qualification queue")],
)
def test_each_role_lands_on_its_page_and_can_log_out(page, log_in, make_user, role, landing, heading):
    make_user("person", role=role, password=PASSWORD)

    log_in("person", PASSWORD)

    page.wait_for_url(f"**{landing}")
    assert page.get_by_role("heading", level=1).first.inner_text().startswith(heading)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/**")


def test_a_wrong_password_is_explained(page, log_in, make_user):
    make_user("person", role="analyst", password=PASSWORD)

    log_in("person", "not-the-password")

    assert page.get_by_role("alert").is_visible()
    assert "/accounts/login/" in page.url
