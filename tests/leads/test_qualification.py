from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.errors import IllegalTransition, InvalidEffectiveTime, InvalidInput
from leads.models import Lead, Qualification
from leads.services import qualification_open, qualification_recycle
from opportunities.services import opportunity_lose, opportunity_qualify, opportunity_win
from tests.funnel_helpers import CRM, SYSTEM, book, days_ago, make_ql, transitions

pytestmark = pytest.mark.django_db


def test_qualifying_opens_an_episode_with_its_scores_and_logs_it():
    episode = make_ql(at=days_ago(10), bucket="P2")

    assert (episode.stage, episode.qualified_at, episode.bucket, episode.source) == (
        "open",
        days_ago(10),
        "P2",
        "inbound",
    )
    assert episode.sub_source == "google"
    assert transitions(episode) == [("", "open")]
    lead = Lead.objects.get(pk=episode.lead_id)
    assert lead.stage == "ql"
    assert transitions(lead) == [("new", "ql")]


def test_the_episode_keeps_what_the_rules_said():
    lead = make_ql("other@acme.example").lead
    Qualification.objects.filter(lead=lead).update(stage="recycled", ended_at=days_ago(20))
    Lead.objects.filter(pk=lead.pk).update(stage="recycled")
    explanation = {"fit": [{"rule": "Mid-market", "points": 30}], "intent": [{"activity": 7, "points": 40.0}]}

    episode = qualification_open(
        lead_id=lead.pk,
        qualified_at=days_ago(5),
        source="product",
        bucket="P1",
        fit_score=70,
        intent_score=41.5,
        ruleset_version=3,
        explanation=explanation,
        actor=SYSTEM,
    )

    episode.refresh_from_db()
    assert (episode.fit_score, episode.intent_score, episode.ruleset_version) == (70, 41.5, 3)
    assert episode.explanation == explanation


def test_a_lead_with_an_open_episode_cannot_open_another():
    episode = make_ql()

    with pytest.raises(IllegalTransition, match="already has an open"):
        qualification_open(lead_id=episode.lead_id, qualified_at=days_ago(1), source="chat", actor=SYSTEM)
    assert Qualification.objects.count() == 1


def test_a_customer_starts_no_new_episode():
    make_ql(at=days_ago(30))
    opportunity = book(at=days_ago(29))
    opportunity_win(opportunity_id=opportunity.pk, actor=CRM, at=days_ago(20), amount=Decimal(1))

    with pytest.raises(IllegalTransition, match="customer"):
        qualification_open(lead_id=opportunity.lead_id, qualified_at=days_ago(1), source="chat", actor=SYSTEM)


def test_requalification_cannot_start_before_the_previous_episode_ended():
    make_ql(at=days_ago(30))
    opportunity = book(at=days_ago(29))
    opportunity_qualify(opportunity_id=opportunity.pk, actor=CRM, at=days_ago(28))
    opportunity_lose(opportunity_id=opportunity.pk, actor=CRM, reason="timing", at=days_ago(20))

    with pytest.raises(InvalidEffectiveTime, match="earlier than the previous milestone"):
        qualification_open(lead_id=opportunity.lead_id, qualified_at=days_ago(21), source="chat", actor=SYSTEM)
    episode = qualification_open(lead_id=opportunity.lead_id, qualified_at=days_ago(20), source="chat", actor=SYSTEM)
    assert episode.qualified_at == days_ago(20)


def test_a_qualification_in_the_future_is_refused():
    lead = Lead.objects.create(email="soon@acme.example")

    with pytest.raises(InvalidEffectiveTime, match="future"):
        qualification_open(
            lead_id=lead.pk, qualified_at=timezone.now() + timedelta(minutes=5), source="inbound", actor=SYSTEM
        )


def test_an_unknown_source_is_refused():
    lead = Lead.objects.create(email="x@acme.example")

    with pytest.raises(InvalidInput, match="Unknown source"):
        qualification_open(lead_id=lead.pk, qualified_at=days_ago(1), source="carrier-pigeon", actor=SYSTEM)


def test_recycling_ends_an_episode_without_opportunity_so_the_lead_can_qualify_again():
    episode = make_ql(at=days_ago(40))

    qualification_recycle(lead_id=episode.lead_id, actor=CRM, at=days_ago(10), reason="no response in 30 days")

    episode.refresh_from_db()
    assert (episode.stage, episode.ended_at) == ("recycled", days_ago(10))
    lead = Lead.objects.get(pk=episode.lead_id)
    assert lead.stage == "recycled"
    assert transitions(lead)[-1] == ("ql", "recycled")
    again = qualification_open(lead_id=lead.pk, qualified_at=days_ago(2), source="chat", actor=SYSTEM)
    assert again.stage == "open"


def test_an_episode_with_an_opportunity_is_not_recycled():
    make_ql()
    opportunity = book()

    with pytest.raises(IllegalTransition, match="close the opportunity"):
        qualification_recycle(lead_id=opportunity.lead_id, actor=CRM)


def test_recycling_needs_an_open_episode():
    lead = Lead.objects.create(email="nobody@acme.example")

    with pytest.raises(IllegalTransition, match="no open QL episode"):
        qualification_recycle(lead_id=lead.pk, actor=CRM)


def test_recycling_before_the_qualification_is_refused():
    episode = make_ql(at=days_ago(10))

    with pytest.raises(InvalidEffectiveTime):
        qualification_recycle(lead_id=episode.lead_id, actor=CRM, at=days_ago(11))
