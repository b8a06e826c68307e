from decimal import Decimal

import pytest

from opportunities.services import opportunity_disqualify, opportunity_win
from tests.funnel_helpers import CRM, book, days_ago, make_ql

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"


@pytest.fixture
def lead_with_history():
    first = make_ql(at=days_ago(60), bucket="P2")
    lost = book(at=days_ago(59), external_id="m-1")
    opportunity_disqualify(opportunity_id=lost.pk, actor=CRM, reason="timing", at=days_ago(50))
    from leads.services import qualification_open

    qualification_open(lead_id=first.lead_id, qualified_at=days_ago(10), source="chat", bucket="P1", actor=CRM)
    won = book(at=days_ago(9), external_id="m-2")
    opportunity_win(opportunity_id=won.pk, actor=CRM, at=days_ago(2), amount=Decimal("9000"))
    return first.lead_id, lost, won


@pytest.mark.parametrize("role", ["sales_rep", "analyst", "revops_admin"])
def test_every_role_reads_the_lead_with_its_episodes_and_opportunities(client, make_user, lead_with_history, role):
    lead_id, lost, won = lead_with_history
    make_user("someone", role=role, password=PASSWORD)
    client.login(username="someone", password=PASSWORD)

    page = client.get(f"/leads/{lead_id}/").content.decode()

    assert "QL episodes" in page
    assert page.count('class="card episode"') == 2
    assert f'href="/opportunities/{lost.pk}/"' in page
    assert f'href="/opportunities/{won.pk}/"' in page
    assert "Bad timing" in page
    assert "9000.00" in page


def test_anonymous_visitors_are_sent_to_log_in(client, lead_with_history):
    response = client.get(f"/leads/{lead_with_history[0]}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_user_without_a_role_is_refused(client, lead_with_history):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("norole"))

    assert client.get(f"/leads/{lead_with_history[0]}/").status_code == 403
