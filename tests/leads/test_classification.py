"""The classifier against the database: episodes, re-qualification, customers, publishes."""

import copy
import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jobs.models import Job
from leads.classification import _ClassificationBatch
from leads.errors import IllegalTransition
from leads.models import Lead, Qualification, Ruleset, RulesetPublication, StageTransition
from leads.scoring import RulesetInvalid
from leads.services import (
    CompanyData,
    activity_record,
    lead_upsert,
    leads_classify,
    qualification_recycle,
    qualifications_recycle_due,
    ruleset_create,
    ruleset_draft_from,
    ruleset_publish,
    ruleset_reevaluate,
    ruleset_update,
)
from leads.transitions import Actor
from opportunities.services import meeting_book, opportunity_qualify, opportunity_win
from tests.leads.test_scoring import DOCUMENT

pytestmark = pytest.mark.django_db
CRM = Actor.integration("crm")


def publish(document: dict[str, Any] | None = None) -> Ruleset:
    ruleset = ruleset_create(document=copy.deepcopy(document or DOCUMENT))
    job = ruleset_publish(ruleset_id=ruleset.pk, actor_name="test")
    ruleset_reevaluate(job_id=job.pk)
    ruleset.refresh_from_db()
    return ruleset


def fitting_lead(email: str = "ada@engines.example") -> Lead:
    lead, _ = lead_upsert(
        email=email,
        source="inbound",
        sub_source="google",
        company=CompanyData(domain=email.split("@")[1], employee_count=200, industry="software"),
    )
    return lead


def record(email: str, kind: str, name: str, days_ago: float, key: str, **properties: Any) -> None:
    activity_record(
        email=email,
        kind=kind,
        name=name,
        source_system="test",
        external_id=key,
        occurred_at=timezone.now() - timedelta(days=days_ago),
        properties=properties,
    )


def test_without_an_active_ruleset_nothing_qualifies_but_the_lead_is_marked_seen():
    lead = fitting_lead()
    record(lead.email, "form", "Demo Request", 1, "a1")

    assert leads_classify(lead_ids=[lead.pk]) == 1

    lead.refresh_from_db()
    assert lead.classified_at is not None
    assert not Qualification.objects.exists()


def test_a_qualifying_lead_gets_an_episode_at_the_qualifying_activity():
    ruleset = publish()
    lead = fitting_lead()
    record(lead.email, "chat", "Hello", 3, "a1")
    record(lead.email, "product", "Pricing Page Viewed", 2, "a2", plan="free")

    leads_classify(lead_ids=[lead.pk])

    episode = Qualification.objects.get(lead=lead)
    assert episode.qualified_at == lead.activities.get(external_id="a1").occurred_at
    assert (episode.source, episode.sub_source, episode.bucket) == ("chat", "google", "P2")
    assert (episode.fit_score, episode.intent_score, episode.ruleset_version) == (50, 25, ruleset.version)
    assert episode.explanation["qualified"] is True
    assert [a["name"] for a in episode.explanation["intent"]["activities"]] == ["Hello"]
    lead.refresh_from_db()
    assert lead.stage == "ql"
    assert lead.bucket == "P2"
    assert lead.fit_score == 50
    assert lead.intent_score == pytest.approx(25 * 0.5 ** (3 / 14) + 5 * 0.5 ** (2 / 14), abs=1e-3)
    log = StageTransition.objects.get(object_type="episode", object_id=episode.pk)
    assert (log.actor_kind, log.ruleset_version) == ("system", ruleset.version)


def test_classifying_twice_opens_one_episode():
    publish()
    lead = fitting_lead()
    record(lead.email, "form", "Demo Request", 1, "a1")

    leads_classify(lead_ids=[lead.pk])
    Lead.objects.filter(pk=lead.pk).update(classification_requested_at=timezone.now())
    leads_classify(lead_ids=[lead.pk])

    assert Qualification.objects.filter(lead=lead).count() == 1


def test_a_lead_is_classified_when_asked_even_if_a_run_marked_it_seen_after_its_change():
    publish()
    lead = fitting_lead()
    record(lead.email, "form", "Demo Request", 1, "a1")
    # A run that started between the change's mark and its commit stored a later time.
    Lead.objects.filter(pk=lead.pk).update(classified_at=timezone.now() + timedelta(seconds=1), bucket="")

    leads_classify(lead_ids=[lead.pk])

    assert Qualification.objects.filter(lead=lead).count() == 1


def test_a_run_that_started_earlier_does_not_overwrite_a_newer_result():
    publish()
    lead = fitting_lead()
    newer = timezone.now() + timedelta(hours=1)
    Lead.objects.filter(pk=lead.pk).update(classified_at=newer, fit_score=-7)

    leads_classify(lead_ids=[lead.pk])

    lead.refresh_from_db()
    assert (lead.classified_at, lead.fit_score) == (newer, -7)


def test_a_lead_that_does_not_fit_stays_new_whatever_its_intent():
    publish()
    lead, _ = lead_upsert(email="someone@gmail.com", source="inbound")
    record(lead.email, "form", "Demo Request", 1, "a1")

    leads_classify(lead_ids=[lead.pk])

    lead.refresh_from_db()
    assert lead.stage == "new"
    assert lead.fit_score == -40
    assert lead.bucket == ""


def test_after_a_recycle_the_lead_requalifies_only_on_later_activity():
    publish()
    lead = fitting_lead()
    record(lead.email, "form", "Demo Request", 30, "a1")
    leads_classify(lead_ids=[lead.pk])
    qualification_recycle(lead_id=lead.pk, actor=CRM, at=timezone.now() - timedelta(days=20))

    leads_classify(lead_ids=[lead.pk])
    assert Qualification.objects.filter(lead=lead).count() == 1

    record(lead.email, "chat", "Back again", 2, "a2")
    leads_classify(lead_ids=[lead.pk])

    second = Qualification.objects.get(lead=lead, stage="open")
    assert second.qualified_at == lead.activities.get(external_id="a2").occurred_at
    assert second.source == "chat"
    assert [a["name"] for a in second.explanation["intent"]["activities"]] == ["Back again"]


def test_a_customer_never_gets_a_new_episode():
    publish()
    lead = fitting_lead()
    record(lead.email, "form", "Demo Request", 10, "a1")
    leads_classify(lead_ids=[lead.pk])
    booking = meeting_book(email=lead.email, actor=CRM, booked_at=timezone.now() - timedelta(days=9))
    assert booking.opportunity is not None
    opportunity_qualify(opportunity_id=booking.opportunity.pk, actor=CRM, at=timezone.now() - timedelta(days=8))
    opportunity_win(opportunity_id=booking.opportunity.pk, actor=CRM, at=timezone.now() - timedelta(days=7))

    record(lead.email, "form", "Contact Sales", 1, "a2")
    leads_classify(lead_ids=[lead.pk])

    assert Qualification.objects.filter(lead=lead).count() == 1
    assert Lead.objects.get(pk=lead.pk).stage == "customer"


def test_a_booked_meeting_can_itself_qualify_the_lead_at_booking_time():
    document = copy.deepcopy(DOCUMENT)
    document["intent_rules"].append({"label": "Booked", "kind": "meeting", "points": 50})
    publish(document)
    lead = fitting_lead()
    booked_at = timezone.now() - timedelta(hours=2)

    booking = meeting_book(email=lead.email, actor=CRM, booked_at=booked_at)

    episode = Qualification.objects.get(lead=lead)
    assert episode.qualified_at == booked_at
    assert episode.source == "inbound"
    assert booking.opportunity is not None
    assert booking.opportunity.qualification_id == episode.pk


def test_a_burst_of_activities_in_one_transaction_classifies_the_lead_once(
    django_capture_on_commit_callbacks, monkeypatch
):
    batches: list[list[int]] = []
    monkeypatch.setattr("leads.tasks.classify_leads.delay", lambda ids: batches.append(ids))

    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for n in range(100):
            record("burst@engines.example", "product", "Pricing Page Viewed", 1, f"burst-{n}")

    assert len([c for c in callbacks if isinstance(c, _ClassificationBatch)]) == 1
    assert batches == [[Lead.objects.get(email="burst@engines.example").pk]]


# ---------------------------------------------------------------- rulesets and publishing


def test_drafts_get_the_next_version_and_only_drafts_can_be_edited():
    first = publish()
    draft = ruleset_draft_from(ruleset_id=first.pk)

    assert (draft.version, draft.status, draft.based_on_id) == (first.version + 1, "draft", first.pk)
    changed = {**draft.document, "fit_threshold": 45}
    assert ruleset_update(ruleset_id=draft.pk, document=changed).document["fit_threshold"] == 45
    with pytest.raises(IllegalTransition, match="only drafts"):
        ruleset_update(ruleset_id=first.pk, document=changed)
    with pytest.raises(RulesetInvalid) as caught:
        ruleset_update(ruleset_id=draft.pk, document={**changed, "fit_threshold": "high"})
    assert "fit_threshold" in caught.value.errors


def test_publishing_retires_the_previous_ruleset_and_logs_who_published():
    first = publish()
    second = ruleset_draft_from(ruleset_id=first.pk)

    ruleset_publish(ruleset_id=second.pk, actor_name="ops-script")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("retired", "active")
    publication = RulesetPublication.objects.get(ruleset=second)
    assert (publication.previous, publication.published_by_name) == (first, "ops-script")
    with pytest.raises(IllegalTransition, match="already the active"):
        ruleset_publish(ruleset_id=second.pk)


def test_a_publish_reevaluates_every_lead_without_an_open_episode_and_rewrites_no_episode():
    strict = copy.deepcopy(DOCUMENT)
    strict["intent_threshold"] = 100
    publish(strict)
    early = fitting_lead("early@engines.example")
    record(early.email, "form", "Demo Request", 5, "e1")
    record(early.email, "chat", "Hi", 4, "e2")
    record(early.email, "form", "Contact Sales", 3, "e3")
    leads_classify(lead_ids=[early.pk])
    episode = Qualification.objects.get(lead=early)
    waiting = fitting_lead("waiting@engines.example")
    record(waiting.email, "form", "Demo Request", 2, "w1")
    leads_classify(lead_ids=[waiting.pk])
    assert not Qualification.objects.filter(lead=waiting).exists()

    lenient = publish()

    job = Job.objects.get(kind="rules_publish", parameters__ruleset_id=lenient.pk)
    assert (job.status, job.total, job.done) == ("succeeded", 1, 1)
    assert job.result == {"classified": 1, "qualified": 1}
    new = Qualification.objects.get(lead=waiting)
    assert new.ruleset_version == lenient.version
    assert new.qualified_at == waiting.activities.get().occurred_at
    unchanged = Qualification.objects.get(pk=episode.pk)
    assert (unchanged.ruleset_version, unchanged.qualified_at, unchanged.bucket) == (
        episode.ruleset_version,
        episode.qualified_at,
        episode.bucket,
    )


def test_a_resumed_reevaluation_skips_leads_already_classified():
    ruleset = ruleset_create(document=copy.deepcopy(DOCUMENT))
    leads = [fitting_lead(f"p{n}@engines.example") for n in range(5)]
    for n, lead in enumerate(leads):
        record(lead.email, "form", "Demo Request", 1, f"p{n}")
    job = ruleset_publish(ruleset_id=ruleset.pk)
    leads_classify(lead_ids=[leads[0].pk, leads[1].pk])

    ruleset_reevaluate(job_id=job.pk, chunk_size=2)

    job.refresh_from_db()
    assert (job.status, job.total, job.done) == ("succeeded", 5, 5)
    assert job.result["classified"] == 3
    assert Qualification.objects.count() == 5
    assert not Lead.objects.filter(classified_at__lt=job.created_at).exists()


def test_funnel_rules_publish_waits_for_the_reevaluation(tmp_path, monkeypatch):
    # The test runs inside a transaction that never commits: run after-commit work at once, in process.
    monkeypatch.setattr("django.db.transaction.on_commit", lambda callback, *args, **kwargs: callback())
    monkeypatch.setattr("leads.tasks.classify_leads.delay", lambda ids: leads_classify(lead_ids=ids))
    monkeypatch.setattr("leads.services._enqueue_reevaluation", lambda job_id: ruleset_reevaluate(job_id=job_id))
    lead = fitting_lead()
    record(lead.email, "form", "Demo Request", 1, "a1")
    Lead.objects.filter(pk=lead.pk).update(classified_at=timezone.now())
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(DOCUMENT))
    out = StringIO()

    call_command("funnel_rules", "publish", str(path), "--timeout=30", stdout=out)

    assert "Published ruleset v1" in out.getvalue()
    assert "new QL episodes" in out.getvalue()
    assert Qualification.objects.filter(lead=lead).exists()
    assert Job.objects.get(kind="rules_publish").status == "succeeded"


def test_funnel_rules_explains_an_invalid_file(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({**DOCUMENT, "fit_threshold": "forty"}))

    with pytest.raises(CommandError, match=r"fit_threshold: Must be a number"):
        call_command("funnel_rules", "publish", str(path))
    assert not Ruleset.objects.exists()


def test_episodes_without_an_opportunity_are_recycled_after_recycle_after_days():
    document = copy.deepcopy(DOCUMENT)
    document["recycle_after_days"] = 30
    publish(document)
    stale = fitting_lead("stale@engines.example")
    record(stale.email, "form", "Demo Request", 40, "s1")
    fresh = fitting_lead("fresh@engines.example")
    record(fresh.email, "form", "Demo Request", 10, "f1")
    leads_classify(lead_ids=[stale.pk, fresh.pk])

    assert qualifications_recycle_due() == 1

    episode = Qualification.objects.get(lead=stale)
    assert episode.stage == "recycled"
    assert episode.ended_at == episode.qualified_at + timedelta(days=30)
    assert Lead.objects.get(pk=stale.pk).stage == "recycled"
    assert Qualification.objects.get(lead=fresh).stage == "open"
    assert qualifications_recycle_due() == 0


def test_a_batch_opens_episodes_with_their_log_rows():
    publish()
    leads = [fitting_lead(f"b{n}@engines.example") for n in range(3)]
    for n, lead in enumerate(leads):
        record(lead.email, "chat", "Hi", 1 + n, f"b{n}")

    assert leads_classify(lead_ids=[lead.pk for lead in leads]) == 3

    for lead in leads:
        episode = Qualification.objects.get(lead=lead)
        assert episode.qualified_at == lead.activities.get().occurred_at
        assert (episode.source, episode.sub_source, episode.bucket) == ("chat", "google", "P2")
        logged = StageTransition.objects.filter(lead=lead).values_list("object_type", "from_stage", "to_stage")
        assert sorted(logged) == [("episode", "", "open"), ("lead", "new", "ql")]
        assert Lead.objects.get(pk=lead.pk).stage == "ql"
