from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from leads.errors import IllegalTransition, InvalidEffectiveTime, InvalidInput
from leads.models import Lead, StageTransition
from leads.transitions import Actor
from opportunities.models import Opportunity
from opportunities.permissions import require_may_act
from opportunities.services import (
    opportunity_disqualify,
    opportunity_lose,
    opportunity_qualify,
    opportunity_win,
)
from tests.funnel_helpers import CRM, book, days_ago, make_ql, transitions

pytestmark = pytest.mark.django_db


def move(opportunity: Opportunity, target: str, *, actor: Actor = CRM, at=None) -> Opportunity:
    actions = {
        "qualified": lambda: opportunity_qualify(opportunity_id=opportunity.pk, actor=actor, at=at),
        "won": lambda: opportunity_win(opportunity_id=opportunity.pk, actor=actor, at=at, amount=Decimal("1200")),
        "lost": lambda: opportunity_lose(opportunity_id=opportunity.pk, actor=actor, at=at, reason="competitor"),
        "disqualified": lambda: opportunity_disqualify(
            opportunity_id=opportunity.pk, actor=actor, at=at, reason="not_icp", note="Agency, not a buyer"
        ),
    }
    return actions[target]()


def opportunity_at(stage: str) -> Opportunity:
    make_ql()
    opportunity = book()
    path = {
        "open": [],
        "qualified": ["qualified"],
        "won": ["qualified", "won"],
        "lost": ["qualified", "lost"],
        "disqualified": ["disqualified"],
    }[stage]
    for step, at in zip(path, (days_ago(20), days_ago(10)), strict=False):
        opportunity = move(opportunity, step, at=at)
    return opportunity


def test_qualify_sets_the_milestone_logs_it_and_moves_the_lead():
    opportunity = opportunity_at("open")
    at = days_ago(20)

    opportunity = opportunity_qualify(opportunity_id=opportunity.pk, actor=CRM, at=at)

    assert opportunity.stage == "qualified"
    assert opportunity.qualified_at == at
    assert opportunity.closed_at is None
    assert transitions(opportunity) == [("", "open"), ("open", "qualified")]
    lead = Lead.objects.get(pk=opportunity.lead_id)
    assert lead.stage == "qo"
    assert transitions(lead)[-1] == ("opportunity", "qo")
    assert opportunity.qualification.stage == "open"


def test_win_closes_the_episode_and_makes_the_lead_a_customer():
    opportunity = opportunity_at("qualified")
    at = days_ago(5)

    opportunity = opportunity_win(opportunity_id=opportunity.pk, actor=CRM, at=at, amount=Decimal("9900.50"))

    assert (opportunity.stage, opportunity.closed_at, opportunity.amount) == ("won", at, Decimal("9900.50"))
    episode = opportunity.qualification
    episode.refresh_from_db()
    assert (episode.stage, episode.ended_at) == ("won", at)
    assert transitions(episode) == [("", "open"), ("open", "won")]
    assert Lead.objects.get(pk=opportunity.lead_id).stage == "customer"


def test_lose_records_the_reason_ends_the_episode_and_recycles_the_lead():
    opportunity = opportunity_at("qualified")

    opportunity = opportunity_lose(opportunity_id=opportunity.pk, actor=CRM, at=days_ago(5), reason="no_budget")

    assert opportunity.stage == "lost"
    assert opportunity.reason.code == "no_budget"
    assert opportunity.qualification.stage == "lost"
    assert StageTransition.objects.filter(object_type="opportunity", to_stage="lost").get().reason == "no_budget"
    assert Lead.objects.get(pk=opportunity.lead_id).stage == "recycled"


def test_disqualify_keeps_the_note_and_ends_the_episode():
    opportunity = opportunity_at("open")

    opportunity = opportunity_disqualify(
        opportunity_id=opportunity.pk, actor=CRM, reason="no_show", note="Did not join the call", at=days_ago(25)
    )

    assert (opportunity.stage, opportunity.reason.code, opportunity.reason_note) == (
        "disqualified",
        "no_show",
        "Did not join the call",
    )
    assert opportunity.qualified_at is None
    assert opportunity.qualification.stage == "disqualified"
    assert Lead.objects.get(pk=opportunity.lead_id).stage == "recycled"


def test_winning_an_open_opportunity_fills_the_skipped_qo_milestone_and_logs_each_step():
    opportunity = opportunity_at("open")
    at = days_ago(3)

    opportunity = opportunity_win(opportunity_id=opportunity.pk, actor=CRM, at=at)

    assert opportunity.stage == "won"
    assert opportunity.qualified_at == at
    assert opportunity.closed_at == at
    assert transitions(opportunity) == [("", "open"), ("open", "qualified"), ("qualified", "won")]
    lead = Lead.objects.get(pk=opportunity.lead_id)
    assert transitions(lead)[-2:] == [("opportunity", "qo"), ("qo", "customer")]
    assert {row.effective_at for row in StageTransition.objects.filter(object_type="opportunity")} >= {at}


ILLEGAL = [
    ("open", "lost"),
    ("qualified", "qualified"),
    ("qualified", "disqualified"),
    ("won", "qualified"),
    ("won", "won"),
    ("won", "lost"),
    ("won", "disqualified"),
    ("lost", "qualified"),
    ("lost", "won"),
    ("lost", "lost"),
    ("lost", "disqualified"),
    ("disqualified", "qualified"),
    ("disqualified", "won"),
    ("disqualified", "lost"),
    ("disqualified", "disqualified"),
]


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_illegal_transitions_are_refused_and_change_nothing(current, target):
    opportunity = opportunity_at(current)
    log_size = StageTransition.objects.count()

    with pytest.raises(IllegalTransition, match=f"from '{current}' to '{target}'"):
        move(opportunity, target)

    refreshed = Opportunity.objects.get(pk=opportunity.pk)
    assert refreshed.stage == current
    assert (refreshed.qualified_at, refreshed.closed_at) == (opportunity.qualified_at, opportunity.closed_at)
    assert StageTransition.objects.count() == log_size


def test_an_effective_time_in_the_future_is_refused():
    opportunity = opportunity_at("open")

    with pytest.raises(InvalidEffectiveTime, match="future"):
        opportunity_qualify(opportunity_id=opportunity.pk, actor=CRM, at=timezone.now() + timedelta(hours=1))
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "open"


def test_an_effective_time_before_the_previous_milestone_is_refused():
    opportunity = opportunity_at("qualified")

    with pytest.raises(InvalidEffectiveTime, match="earlier than the previous milestone"):
        opportunity_win(opportunity_id=opportunity.pk, actor=CRM, at=opportunity.qualified_at - timedelta(seconds=1))
    with pytest.raises(InvalidEffectiveTime, match="earlier than the previous milestone"):
        opportunity_qualify(opportunity_id=opportunity_at_open_for("late@acme.example").pk, actor=CRM, at=days_ago(40))


def opportunity_at_open_for(email: str) -> Opportunity:
    make_ql(email)
    return book(email, external_id=f"meeting-{email}")


def test_an_effective_time_equal_to_the_previous_milestone_is_accepted():
    opportunity = opportunity_at("open")

    opportunity = opportunity_qualify(opportunity_id=opportunity.pk, actor=CRM, at=opportunity.created_at)

    assert opportunity.qualified_at == opportunity.created_at


def test_an_effective_time_without_offset_is_refused():
    opportunity = opportunity_at("open")

    with pytest.raises(InvalidEffectiveTime, match="offset"):
        opportunity_qualify(opportunity_id=opportunity.pk, actor=CRM, at=days_ago(20).replace(tzinfo=None))


def test_users_act_now_whatever_time_they_send(make_user):
    rep = Actor.user(make_user("rita", role="sales_rep"))
    opportunity = opportunity_at("open")
    before = timezone.now()

    opportunity = opportunity_qualify(opportunity_id=opportunity.pk, actor=rep, at=days_ago(20))

    assert opportunity.qualified_at >= before
    row = StageTransition.objects.get(object_type="opportunity", to_stage="qualified")
    assert (row.actor_kind, row.actor_name, row.actor_user_id) == ("user", "rita", rep.user_id)


@pytest.mark.parametrize(
    ("action", "reason", "message"),
    [
        ("disqualify", "", "required"),
        ("disqualify", "made_up", "not a reason code"),
        ("disqualify", "competitor", "not a reason code"),
        ("lose", "", "required"),
        ("lose", "no_show", "not a reason code"),
    ],
)
def test_reasons_must_come_from_the_list_for_that_action(action, reason, message):
    opportunity = opportunity_at("open" if action == "disqualify" else "qualified")
    service = opportunity_disqualify if action == "disqualify" else opportunity_lose

    with pytest.raises(InvalidInput, match=message) as error:
        service(opportunity_id=opportunity.pk, actor=CRM, reason=reason)

    assert error.value.field == "reason"
    assert Opportunity.objects.get(pk=opportunity.pk).stage == opportunity.stage


def test_a_negative_amount_is_refused():
    opportunity = opportunity_at("qualified")

    with pytest.raises(InvalidInput, match="negative"):
        opportunity_win(opportunity_id=opportunity.pk, actor=CRM, amount=Decimal("-1"))


def test_a_rep_cannot_act_on_an_opportunity_another_rep_took_after_the_page_was_loaded(make_user):
    first, second = make_user("first", role="sales_rep"), make_user("second", role="sales_rep")
    opportunity = book()
    assert opportunity.owner_id is None
    checked_on_the_page = require_may_act(second)
    checked_on_the_page(opportunity)
    opportunity_qualify(opportunity_id=opportunity.pk, actor=Actor.user(first), authorize=require_may_act(first))

    with pytest.raises(PermissionDenied):
        opportunity_win(opportunity_id=opportunity.pk, actor=Actor.user(second), authorize=checked_on_the_page)

    opportunity.refresh_from_db()
    assert (opportunity.stage, opportunity.owner_id) == ("qualified", first.pk)
