import pytest

from opportunities.services import opportunity_disqualify, opportunity_qualify
from tests.funnel_helpers import CRM, book, days_ago, make_ql

pytestmark = pytest.mark.django_db


def booked(n: int, bucket: str | None) -> int:
    email = f"lead{n}@acme{n}.example"
    if bucket:
        make_ql(email, at=days_ago(20), bucket=bucket)
    return book(email, at=days_ago(19), external_id=f"m-{n}").pk


@pytest.fixture
def outcomes():
    """P1: 1 of 3 disqualified (not_icp). P3: 2 of 2 (no_need, no_need). Unqualified: 1 of 1 (no_show)."""
    p1 = [booked(n, "P1") for n in range(3)]
    p3 = [booked(n, "P3") for n in range(3, 5)]
    walk_in = booked(9, None)
    opportunity_disqualify(opportunity_id=p1[0], actor=CRM, reason="not_icp", at=days_ago(18))
    opportunity_qualify(opportunity_id=p1[1], actor=CRM, at=days_ago(18))
    for pk in p3:
        opportunity_disqualify(opportunity_id=pk, actor=CRM, reason="no_need", at=days_ago(17))
    opportunity_disqualify(opportunity_id=walk_in, actor=CRM, reason="no_show", at=days_ago(17))


def test_admins_see_the_rate_and_reasons_per_bucket(client, make_user, outcomes):
    make_user("boss", role="revops_admin", password="a-long-admin-password")
    client.login(username="boss", password="a-long-admin-password")

    response = client.get("/opportunities/calibration/")

    assert response.status_code == 200
    rows = {row["bucket"]: row for row in response.context["by_bucket"]}
    assert (rows["P1"]["booked"], rows["P1"]["disqualified"]) == (3, 1)
    assert rows["P1"]["rate"] == pytest.approx(1 / 3)
    assert rows["P3"]["rate"] == 1.0
    assert [(r["code"], r["count"]) for r in rows["P3"]["reasons"]] == [("no_need", 2)]
    assert [(r["code"], r["count"]) for r in rows["unqualified"]["reasons"]] == [("no_show", 1)]
    weekly = [cell for week in response.context["matrix"] for cell in week["cells"] if cell["count"]]
    assert sum(cell["count"] for cell in weekly) == 4
    assert "Disqualification rate per bucket" in response.content.decode()


@pytest.mark.parametrize("role", ["analyst", "sales_rep"])
def test_only_admins_see_calibration(client, make_user, role):
    make_user("someone", role=role, password="a-long-test-password")
    client.login(username="someone", password="a-long-test-password")

    assert client.get("/opportunities/calibration/").status_code == 403
