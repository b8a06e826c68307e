import pytest

from leads.models import Ruleset
from opportunities.models import Opportunity
from tests.funnel_helpers import book, days_ago, make_ql
from tests.opportunities.test_queue import RULES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-browser-password"


@pytest.fixture
def queue_of_two(make_user):
    Ruleset.objects.create(version=1, name="ICP", status="active", document=RULES)
    make_ql("first@alpha.example", at=days_ago(3), bucket="P1")
    make_ql("second@beta.example", at=days_ago(3), bucket="P2")
    return [
        book("first@alpha.example", at=days_ago(2), external_id="m-1"),
        book("second@beta.example", at=days_ago(2), external_id="m-2"),
    ]


def test_a_rep_confirms_from_the_queue_then_wins_another(page, log_in, make_user, queue_of_two):
    first, second = queue_of_two
    make_user("rita", role="sales_rep", password=PASSWORD)

    log_in("rita", PASSWORD)
    page.wait_for_url("**/opportunities/queue/")
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    assert "first@alpha.example" in rows.nth(0).inner_text()

    page.get_by_role("button", name="Confirm first@alpha.example as qualified").click()
    page.get_by_text("Confirmed as a qualified opportunity.").wait_for()
    assert page.locator("tbody tr").count() == 1
    assert "first@alpha.example" not in page.locator("tbody").inner_text()

    page.get_by_role("link", name="second@beta.example").click()
    page.get_by_label("Amount").fill("18000")
    page.get_by_role("button", name="Mark won").click()
    page.get_by_text("Marked won.").wait_for()

    assert Opportunity.objects.get(pk=first.pk).stage == "qualified"
    won = Opportunity.objects.get(pk=second.pk)
    assert (won.stage, str(won.amount), won.owner.username) == ("won", "18000.00", "rita")


def test_an_analyst_reads_but_cannot_act(page, log_in, make_user, queue_of_two):
    make_user("ana", role="analyst", password=PASSWORD)

    log_in("ana", PASSWORD)
    page.wait_for_url("**/dashboard/")
    page.goto("/opportunities/queue/")
    assert page.locator("tbody tr").count() == 2
    assert page.get_by_role("button", name="Confirm").count() == 0

    page.get_by_role("link", name="first@alpha.example").click()
    assert page.get_by_role("button", name="Confirm qualified").count() == 0
    assert "You can read this opportunity" in page.locator("main").inner_text()
