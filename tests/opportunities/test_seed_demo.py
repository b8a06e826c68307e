import re
from io import StringIO
from itertools import groupby

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from access.roles import roles_of
from leads.models import Activity, Lead, Qualification, StageTransition
from opportunities.demo import DEMO_PASSWORD, DEMO_USERS
from opportunities.models import Opportunity

pytestmark = pytest.mark.django_db

SMALL = 400


def seed(leads: int = SMALL) -> str:
    out = StringIO()
    call_command("seed_demo", f"--leads={leads}", stdout=out)
    return out.getvalue()


def test_loads_a_funnel_with_every_stage_bucket_and_source():
    seed()

    assert Lead.objects.count() == SMALL
    assert set(Lead.objects.values_list("source", flat=True)) == {"inbound", "chat", "product"}
    assert set(Qualification.objects.values_list("source", flat=True)) == {"inbound", "chat", "product"}
    assert len(set(Qualification.objects.values_list("bucket", flat=True))) >= 2
    assert set(Opportunity.objects.values_list("stage", flat=True)) == {
        "open",
        "qualified",
        "won",
        "lost",
        "disqualified",
    }
    assert Opportunity.objects.filter(qualification__isnull=True).exists()
    assert Lead.objects.annotate(episodes=Count("qualifications")).filter(episodes__gte=2).exists()


def test_history_is_in_the_past_fully_logged_and_closed_deals_are_complete():
    seed()

    now = timezone.now()
    assert not Activity.objects.filter(occurred_at__gt=now).exists()
    assert not StageTransition.objects.filter(effective_at__gt=now).exists()
    for _, rows in groupby(StageTransition.objects.order_by("lead_id", "id"), key=lambda row: row.lead_id):
        times = [row.effective_at for row in rows]
        assert times == sorted(times)
    assert StageTransition.objects.filter(object_type="episode").count() == (
        Qualification.objects.count() + Qualification.objects.exclude(stage="open").count()
    )
    won = Opportunity.objects.filter(stage="won").first()
    assert won is not None
    steps = StageTransition.objects.filter(object_type="opportunity", object_id=won.pk).order_by("id")
    assert [(row.from_stage, row.to_stage) for row in steps] == [
        ("", "open"),
        ("open", "qualified"),
        ("qualified", "won"),
    ]
    assert not Opportunity.objects.filter(stage="won", amount__isnull=True).exists()
    assert not Opportunity.objects.filter(stage__in=["lost", "disqualified"], reason__isnull=True).exists()
    owners = set(Opportunity.objects.values_list("owner__username", flat=True))
    assert owners == {username for username, role in DEMO_USERS if role == "sales_rep"}


def test_every_demo_user_holds_its_role_and_can_log_in(client):
    seed(leads=10)

    for username, role in DEMO_USERS:
        assert roles_of(User.objects.get(username=username)) == {role}
        assert client.login(username=username, password=DEMO_PASSWORD), username
        client.logout()


def test_a_second_run_changes_nothing_and_still_prints_the_logins():
    first = seed(leads=50)
    counts = _counts()

    second = seed(leads=50)

    assert _counts() == counts
    assert re.search(r"^ +Leads +50 ", first, re.MULTILINE)
    assert "already loaded" in second
    for output in (first, second):
        assert f'password "{DEMO_PASSWORD}"' in output
        for username, role in DEMO_USERS:
            assert re.search(rf"^ +{username} +{role.label}$", output, re.MULTILINE), username


def _counts() -> tuple[int, ...]:
    return (
        Lead.objects.count(),
        Activity.objects.count(),
        Qualification.objects.count(),
        Opportunity.objects.count(),
        StageTransition.objects.count(),
    )
