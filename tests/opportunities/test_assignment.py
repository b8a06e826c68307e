import pytest

from leads.errors import InvalidInput
from opportunities.assignment import opportunity_reassign
from opportunities.models import Opportunity, Team, TeamMember
from opportunities.services import opportunity_disqualify
from tests.funnel_helpers import CRM, book, days_ago, make_ql

pytestmark = pytest.mark.django_db


@pytest.fixture
def reps(make_user):
    return [make_user(name, role="sales_rep") for name in ("rita", "raj", "rosa")]


@pytest.fixture
def high_touch(reps) -> Team:
    team = Team.objects.create(name="High touch", buckets=["P1", "P2"])
    for rep in reps:
        TeamMember.objects.create(team=team, user=rep)
    return team


def booked(n: int, bucket: str | None = "P1") -> Opportunity:
    email = f"lead{n}@acme{n}.example"
    if bucket is not None:
        make_ql(email, at=days_ago(10), bucket=bucket)
    return book(email, at=days_ago(9), external_id=f"m-{n}")


def owners(opportunities: list[Opportunity]) -> list[str | None]:
    by_id = dict(Opportunity.objects.values_list("pk", "owner__username"))
    return [by_id[o.pk] for o in opportunities]


def test_new_opportunities_go_round_robin_through_the_team(high_touch):
    assert owners([booked(n) for n in range(4)]) == ["rita", "raj", "rosa", "rita"]


def test_away_reps_are_skipped(high_touch):
    TeamMember.objects.filter(user__username="raj").update(away=True)

    assert owners([booked(n) for n in range(3)]) == ["rita", "rosa", "rita"]


def test_a_rep_at_their_cap_is_skipped_until_an_opportunity_closes(high_touch):
    TeamMember.objects.filter(user__username__in=["raj", "rosa"]).update(away=True)
    TeamMember.objects.filter(user__username="rita").update(max_open=1)
    first = booked(1)

    second = booked(2)
    assert Opportunity.objects.get(pk=second.pk).owner is None

    opportunity_disqualify(opportunity_id=first.pk, actor=CRM, reason="no_show")
    third = booked(3)
    assert owners([first, third]) == ["rita", "rita"]


def test_a_bucket_no_team_owns_stays_unassigned(high_touch):
    assert Opportunity.objects.get(pk=booked(1, bucket="P3").pk).owner is None


def test_a_team_may_own_unqualified_opportunities(reps):
    team = Team.objects.create(name="Inbound desk", buckets=["unqualified"])
    TeamMember.objects.create(team=team, user=reps[2])

    assert owners([booked(1, bucket=None)]) == ["rosa"]


def test_admins_reassign_open_opportunities_only(high_touch, reps):
    opportunity = booked(1)

    opportunity_reassign(opportunity_id=opportunity.pk, owner_id=reps[2].pk)
    assert owners([opportunity]) == ["rosa"]

    opportunity_disqualify(opportunity_id=opportunity.pk, actor=CRM, reason="no_show")
    with pytest.raises(InvalidInput, match="closed"):
        opportunity_reassign(opportunity_id=opportunity.pk, owner_id=reps[0].pk)


def test_an_admin_reassigns_from_the_opportunity_page(client, make_user, reps, high_touch):
    opportunity = booked(1)
    make_user("boss", role="revops_admin", password="a-long-admin-password")
    client.login(username="boss", password="a-long-admin-password")

    assert "Reassign" in client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    response = client.post(f"/opportunities/{opportunity.pk}/reassign/", {"owner": reps[1].pk}, follow=True)

    assert "Now with raj." in response.content.decode()
    assert owners([opportunity]) == ["raj"]


def test_reps_cannot_reassign(client, reps, high_touch):
    opportunity = booked(1)
    client.force_login(reps[0])

    assert "Reassign" not in client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert client.post(f"/opportunities/{opportunity.pk}/reassign/", {"owner": reps[0].pk}).status_code == 403
