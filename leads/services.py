"""Writes to accounts, leads, activities and QL episodes. Every stage change is logged."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .choices import (
    CHANNEL_OF_KIND,
    EPISODE_TRANSITIONS,
    LEAD_TRANSITIONS,
    ActivityKind,
    EpisodeStage,
    LeadStage,
    ObjectType,
    Source,
)
from .classification import request_classification
from .errors import IllegalTransition, InvalidInput
from .models import Account, Activity, FreeMailDomain, Lead, Qualification
from .transitions import Actor, effective_time, log_transition, transition_steps


def normalize_email(email: str) -> str:
    normalized = (email or "").strip().lower()
    try:
        validate_email(normalized)
    except ValidationError:
        raise InvalidInput(f"'{email}' is not a valid e-mail address.", field="email") from None
    return normalized


def normalize_domain(domain: str) -> str:
    normalized = (domain or "").strip().lower().rstrip(".")
    for prefix in ("https://", "http://"):
        normalized = normalized.removeprefix(prefix)
    normalized = normalized.split("/", 1)[0].removeprefix("www.")
    if "." not in normalized or " " in normalized:
        raise InvalidInput(f"'{domain}' is not a web domain.", field="domain")
    return normalized


def is_free_mail_domain(domain: str) -> bool:
    return FreeMailDomain.objects.filter(domain=domain.lower()).exists()


@dataclass
class CompanyData:
    """Firmographics an integration sends about a lead's company. None leaves a field as it is."""

    domain: str
    name: str | None = None
    employee_count: int | None = None
    industry: str | None = None
    country: str | None = None
    annual_revenue: Decimal | None = None
    traits: dict[str, Any] = field(default_factory=dict)


def account_upsert(*, company: CompanyData) -> Account:
    domain = normalize_domain(company.domain)
    account, _ = Account.objects.get_or_create(domain=domain, defaults={"name": company.name or ""})
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("name", company.name),
            ("employee_count", company.employee_count),
            ("industry", company.industry),
            ("country", company.country.upper() if company.country else None),
            ("annual_revenue", company.annual_revenue),
        )
        if value is not None and getattr(account, name) != value
    }
    if company.traits:
        changes["traits"] = {**account.traits, **company.traits}
    if changes:
        for name, value in changes.items():
            setattr(account, name, value)
        account.save(update_fields=[*changes, "updated_at"])
    return account


def _account_for_email(email: str) -> Account | None:
    domain = email.rsplit("@", 1)[-1]
    if is_free_mail_domain(domain):
        return None
    account, _ = Account.objects.get_or_create(domain=domain)
    return account


@transaction.atomic
def lead_upsert(
    *,
    email: str,
    first_name: str | None = None,
    last_name: str | None = None,
    title: str | None = None,
    country: str | None = None,
    source: str | None = None,
    sub_source: str | None = None,
    traits: dict[str, Any] | None = None,
    company: CompanyData | None = None,
    created_at: datetime | None = None,
) -> tuple[Lead, bool]:
    """Create or update a lead by e-mail. First-touch source and sub-source are kept once set."""
    email = normalize_email(email)
    if source is not None and source not in Source.values:
        raise InvalidInput(f"Unknown source '{source}'.", field="source")
    lead, created = Lead.objects.select_for_update().get_or_create(
        email=email,
        defaults={"source": source or Source.OTHER, "created_at": created_at or timezone.now()},
    )
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("first_name", first_name),
            ("last_name", last_name),
            ("title", title),
            ("country", country.upper() if country else None),
        )
        if value is not None and getattr(lead, name) != value
    }
    if sub_source and not lead.sub_source:
        changes["sub_source"] = sub_source
    if traits:
        changes["traits"] = {**lead.traits, **traits}
    if company is not None:
        changes["account"] = account_upsert(company=company)
    elif lead.account_id is None:
        account = _account_for_email(email)
        if account is not None:
            changes["account"] = account
    if changes:
        for name, value in changes.items():
            setattr(lead, name, value)
        lead.save(update_fields=[*changes, "updated_at"])
    if created or changes:
        request_classification([lead.pk])
    return lead, created


@transaction.atomic
def activity_record(
    *,
    email: str,
    kind: str,
    name: str,
    source_system: str,
    external_id: str,
    occurred_at: datetime | None = None,
    properties: dict[str, Any] | None = None,
) -> tuple[Activity, bool]:
    """Store an activity once per idempotency key. Returns (activity, created)."""
    if kind not in ActivityKind.values:
        raise InvalidInput(f"Unknown activity kind '{kind}'.", field="kind")
    existing = Activity.objects.filter(source_system=source_system, external_id=external_id).first()
    if existing is not None:
        return existing, False
    occurred_at = occurred_at or timezone.now()
    lead, _ = lead_upsert(email=email, source=CHANNEL_OF_KIND[kind], created_at=occurred_at)
    try:
        with transaction.atomic():
            activity = Activity.objects.create(
                lead=lead,
                kind=kind,
                name=name,
                properties=properties or {},
                occurred_at=occurred_at,
                source_system=source_system,
                external_id=external_id,
            )
    except IntegrityError:
        # Another request stored the same key between our check and our insert.
        return Activity.objects.get(source_system=source_system, external_id=external_id), False
    request_classification([lead.pk])
    return activity, True


def lead_move_stage(*, lead: Lead, to_stage: str, at: datetime, actor: Actor, reason: str = "") -> None:
    """Move a lead (locked by the caller) to ``to_stage`` and log it; staying put logs nothing."""
    if lead.stage == to_stage:
        return
    transition_steps(LEAD_TRANSITIONS, lead.stage, to_stage, what="lead")
    log_transition(
        lead_id=lead.pk,
        object_type=ObjectType.LEAD,
        object_id=lead.pk,
        from_stage=lead.stage,
        to_stage=to_stage,
        at=at,
        actor=actor,
        reason=reason,
    )
    lead.stage = to_stage
    lead.save(update_fields=["stage", "updated_at"])


def lead_lock(*, lead_id: int) -> Lead:
    """Lock a lead row. Every stage change of a lead, its episodes or opportunities takes this first."""
    return Lead.objects.select_for_update().get(pk=lead_id)


def _last_ended_episode(lead: Lead) -> Qualification | None:
    return lead.qualifications.exclude(stage=EpisodeStage.OPEN).order_by("-ended_at").first()


@transaction.atomic
def qualification_open(
    *,
    lead_id: int,
    qualified_at: datetime,
    source: str,
    actor: Actor,
    sub_source: str | None = None,
    bucket: str = "",
    fit_score: float | None = None,
    intent_score: float | None = None,
    ruleset_version: int | None = None,
    explanation: dict[str, Any] | None = None,
) -> Qualification:
    """A lead becomes a QL: open an episode. Customers and leads with an open episode cannot."""
    lead = lead_lock(lead_id=lead_id)
    if lead.stage == LeadStage.CUSTOMER:
        raise IllegalTransition("A customer starts no new QL episodes: this funnel measures new business.")
    if lead.qualifications.filter(stage=EpisodeStage.OPEN).exists():
        raise IllegalTransition("This lead already has an open QL episode.")
    if source not in Source.values:
        raise InvalidInput(f"Unknown source '{source}'.", field="source")
    previous = _last_ended_episode(lead)
    not_before = previous.ended_at if previous is not None else None
    at = effective_time(at=qualified_at, actor=actor, not_before=not_before)
    episode = Qualification.objects.create(
        lead=lead,
        qualified_at=at,
        source=source,
        sub_source=lead.sub_source if sub_source is None else sub_source,
        bucket=bucket,
        fit_score=fit_score,
        intent_score=intent_score,
        ruleset_version=ruleset_version,
        explanation=explanation or {},
    )
    log_transition(
        lead_id=lead.pk,
        object_type=ObjectType.EPISODE,
        object_id=episode.pk,
        from_stage="",
        to_stage=EpisodeStage.OPEN,
        at=at,
        actor=actor,
        ruleset_version=ruleset_version,
    )
    if lead.stage in (LeadStage.NEW, LeadStage.RECYCLED):
        lead_move_stage(lead=lead, to_stage=LeadStage.QL, at=at, actor=actor)
    return episode


def qualification_end(
    *, lead: Lead, episode: Qualification, outcome: str, at: datetime, actor: Actor, reason: str = ""
) -> None:
    """End an open episode (the caller holds the lead's lock and its transaction)."""
    transition_steps(EPISODE_TRANSITIONS, episode.stage, outcome, what="QL episode")
    log_transition(
        lead_id=lead.pk,
        object_type=ObjectType.EPISODE,
        object_id=episode.pk,
        from_stage=episode.stage,
        to_stage=outcome,
        at=at,
        actor=actor,
        reason=reason,
        ruleset_version=episode.ruleset_version,
    )
    episode.stage = outcome
    episode.ended_at = at
    episode.save(update_fields=["stage", "ended_at"])


@transaction.atomic
def qualification_recycle(*, lead_id: int, actor: Actor, at: datetime | None = None, reason: str = "") -> Qualification:
    """End a lead's open episode without an opportunity, so the lead can qualify again later."""
    lead = lead_lock(lead_id=lead_id)
    episode = lead.qualifications.select_for_update().filter(stage=EpisodeStage.OPEN).first()
    if episode is None:
        raise IllegalTransition("This lead has no open QL episode to recycle.")
    if hasattr(episode, "opportunity"):
        raise IllegalTransition("This QL episode has an opportunity: close the opportunity instead.")
    moment = effective_time(at=at, actor=actor, not_before=episode.qualified_at)
    qualification_end(lead=lead, episode=episode, outcome=EpisodeStage.RECYCLED, at=moment, actor=actor, reason=reason)
    if lead.stage == LeadStage.QL:
        lead_move_stage(lead=lead, to_stage=LeadStage.RECYCLED, at=moment, actor=actor, reason=reason)
    return episode


def leads_classify(*, lead_ids: list[int]) -> int:
    """Classify these leads against the active ruleset; returns how many were classified.

    Scoring arrives with rulesets: until one is active nothing qualifies, and a run only
    records that each lead's latest data has been seen, which clears it from the sweep.
    """
    started = timezone.now()
    return (
        Lead.objects.filter(pk__in=lead_ids)
        .filter(Q(classification_requested_at__isnull=True) | Q(classification_requested_at__lte=started))
        .update(classified_at=started)
    )
