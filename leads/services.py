"""Writes to accounts, leads, activities and QL episodes. Every stage change is logged."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from jobs.models import Job
from jobs.services import job_advance, job_create, job_enqueue, job_set_task, job_start, job_succeed

from . import classifier
from .choices import (
    CHANNEL_OF_KIND,
    EPISODE_TRANSITIONS,
    LEAD_TRANSITIONS,
    ActivityKind,
    EpisodeStage,
    LeadStage,
    ObjectType,
    RulesetStatus,
    Source,
)
from .classification import request_classification
from .errors import FunnelError, IllegalTransition, InvalidInput
from .models import (
    Account,
    Activity,
    FreeMailDomain,
    Lead,
    Qualification,
    Ruleset,
    RulesetPublication,
    StageTransition,
)
from .scoring import parse_ruleset
from .transitions import Actor, effective_time, log_transition, transition_steps

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

RULES_PUBLISH_JOB = "rules_publish"
REEVALUATE_CHUNK = 500


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
    account, _ = _account_upsert(company)
    return account


def _account_upsert(company: CompanyData) -> tuple[Account, bool]:
    """The account for the company's domain, updated with its data; also whether anything changed."""
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
    if company.traits and {**account.traits, **company.traits} != account.traits:
        changes["traits"] = {**account.traits, **company.traits}
    if changes:
        for name, value in changes.items():
            setattr(account, name, value)
        account.save(update_fields=[*changes, "updated_at"])
    return account, bool(changes)


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
    if not created and created_at is not None and created_at < lead.created_at:
        # A touch delivered late: the lead was known from then, whatever order touches arrive in.
        changes["created_at"] = created_at
    if traits and {**lead.traits, **traits} != lead.traits:
        changes["traits"] = {**lead.traits, **traits}
    changed_account: Account | None = None
    if company is not None:
        account, account_changed = _account_upsert(company)
        if account_changed:
            changed_account = account
        if account.pk != lead.account_id:
            changes["account"] = account
    elif lead.account_id is None:
        account_for_email = _account_for_email(email)
        if account_for_email is not None:
            changes["account"] = account_for_email
    if changes:
        for name, value in changes.items():
            setattr(lead, name, value)
        lead.save(update_fields=[*changes, "updated_at"])
    if changed_account is not None:
        # Fit reads the account, so every lead of a changed account is scored again.
        request_classification(Lead.objects.filter(account=changed_account).values_list("pk", flat=True))
    elif created or changes:
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


@dataclass(frozen=True)
class EpisodeOpening:
    """An episode the classifier found: the lead qualifies at ``qualified_at`` (FUNNEL.md)."""

    lead_id: int
    qualified_at: datetime
    source: str
    bucket: str
    fit_score: float
    intent_score: float
    ruleset_version: int | None
    explanation: dict[str, Any]


@transaction.atomic
def qualifications_open_many(*, openings: list[EpisodeOpening], actor: Actor) -> set[int]:
    """Open many episodes at once, as ``qualification_open`` would one by one; returns the leads that got one.

    Locks the leads in id order, then skips what ``qualification_open`` refuses: customers, leads
    with an open episode, times before the previous episode's end or in the future. The episodes,
    their log rows and the leads' moves to ``ql`` are written in a few statements.
    """
    ids = sorted({opening.lead_id for opening in openings})
    leads = {lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    open_ids = set(
        Qualification.objects.filter(lead_id__in=ids, stage=EpisodeStage.OPEN).values_list("lead_id", flat=True)
    )
    last_end = dict(
        Qualification.objects.filter(lead_id__in=ids)
        .exclude(stage=EpisodeStage.OPEN)
        .values("lead_id")
        .annotate(last=Max("ended_at"))
        .values_list("lead_id", "last")
    )
    now = timezone.now()
    episodes: list[Qualification] = []
    for opening in sorted(openings, key=lambda opening: opening.lead_id):
        lead = leads.get(opening.lead_id)
        previous_end = last_end.get(opening.lead_id)
        if (
            lead is None
            or lead.stage == LeadStage.CUSTOMER
            or lead.pk in open_ids
            or opening.source not in Source.values
            or opening.qualified_at > now
            or (previous_end is not None and opening.qualified_at < previous_end)
        ):
            continue
        open_ids.add(lead.pk)
        episodes.append(
            Qualification(
                lead=lead,
                qualified_at=opening.qualified_at,
                source=opening.source,
                sub_source=lead.sub_source,
                bucket=opening.bucket,
                fit_score=opening.fit_score,
                intent_score=opening.intent_score,
                ruleset_version=opening.ruleset_version,
                explanation=opening.explanation,
            )
        )
    Qualification.objects.bulk_create(episodes)
    rows = []
    moved = []
    for episode in episodes:
        lead = leads[episode.lead_id]
        rows.append(_transition_row(lead.pk, ObjectType.EPISODE, episode.pk, "", EpisodeStage.OPEN, episode, actor))
        if lead.stage in (LeadStage.NEW, LeadStage.RECYCLED):
            transition_steps(LEAD_TRANSITIONS, lead.stage, LeadStage.QL, what="lead")
            rows.append(_transition_row(lead.pk, ObjectType.LEAD, lead.pk, lead.stage, LeadStage.QL, episode, actor))
            moved.append(lead.pk)
    StageTransition.objects.bulk_create(rows)
    Lead.objects.filter(pk__in=moved).update(stage=LeadStage.QL, updated_at=now)
    return {episode.lead_id for episode in episodes}


def _transition_row(
    lead_id: int,
    object_type: str,
    object_id: int,
    from_stage: str,
    to_stage: str,
    episode: Qualification,
    actor: Actor,
) -> StageTransition:
    return StageTransition(
        lead_id=lead_id,
        object_type=object_type,
        object_id=object_id,
        from_stage=from_stage,
        to_stage=to_stage,
        effective_at=episode.qualified_at,
        actor_kind=actor.kind,
        actor_user_id=actor.user_id,
        actor_name=actor.name[:150],
        ruleset_version=episode.ruleset_version if object_type == ObjectType.EPISODE else None,
    )


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
    if outcome != EpisodeStage.WON:
        request_classification([lead.pk])


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


def qualifications_recycle_due(*, now: datetime | None = None) -> int:
    """Recycle every open episode with no opportunity older than the active ruleset's ``recycle_after_days``.

    Each ends at its due time (``qualified_at`` plus that many days), so the lead can qualify again
    on activity after it. Returns how many episodes were recycled.
    """
    rules = classifier.active_rules()
    if rules is None or rules.recycle_after_days is None:
        return 0
    after = timedelta(days=rules.recycle_after_days)
    moment = now or timezone.now()
    due = Qualification.objects.filter(
        stage=EpisodeStage.OPEN, opportunity__isnull=True, qualified_at__lte=moment - after
    ).values_list("lead_id", "qualified_at")
    recycled = 0
    for lead_id, qualified_at in due:
        try:
            qualification_recycle(
                lead_id=lead_id,
                actor=classifier.CLASSIFIER,
                at=qualified_at + after,
                reason=f"No opportunity within {rules.recycle_after_days} days",
            )
        except FunnelError:
            continue
        recycled += 1
    return recycled


def leads_classify(*, lead_ids: list[int]) -> int:
    """Classify these leads against the active ruleset; returns how many were classified.

    A lead without an open episode that qualifies gets one, at the first activity time at which
    it qualifies (FUNNEL.md, "Qualification time"); every lead's current scores are stored and
    its classification mark cleared. Safe to run twice: the second run finds nothing to open.
    """
    return classifier.classify(lead_ids)


def signed_in(user: Any) -> "AbstractBaseUser | None":
    """The acting user of a request, or None for an anonymous one."""
    return user if getattr(user, "is_authenticated", False) else None


def _next_ruleset_version() -> int:
    latest = Ruleset.objects.aggregate(latest=Max("version"))["latest"]
    return (latest or 0) + 1


def _valid_document(document: Any) -> dict[str, Any]:
    rules = parse_ruleset(document)
    return {"name": rules.name, **{key: value for key, value in document.items() if key != "name"}}


@transaction.atomic
def ruleset_create(
    *, document: Any, user: "AbstractBaseUser | None" = None, based_on: Ruleset | None = None
) -> Ruleset:
    """A new draft from a ruleset document (API.md, "Rules"); RulesetInvalid lists every problem."""
    valid = _valid_document(document)
    Ruleset.objects.select_for_update().order_by("pk").first()
    return Ruleset.objects.create(
        version=_next_ruleset_version(),
        name=valid["name"],
        document=valid,
        based_on=based_on,
        created_by_id=user.pk if user else None,
    )


@transaction.atomic
def ruleset_draft_from(*, ruleset_id: int, user: "AbstractBaseUser | None" = None) -> Ruleset:
    """Start a draft from an existing ruleset (usually the active one)."""
    source = Ruleset.objects.get(pk=ruleset_id)
    return ruleset_create(document=source.document, user=user, based_on=source)


@transaction.atomic
def ruleset_update(*, ruleset_id: int, document: Any) -> Ruleset:
    """Replace a draft's document. Published rulesets are history and cannot change."""
    ruleset = Ruleset.objects.select_for_update().get(pk=ruleset_id)
    if ruleset.status != RulesetStatus.DRAFT:
        raise IllegalTransition(f"Ruleset v{ruleset.version} is {ruleset.status}: only drafts can be edited.")
    valid = _valid_document(document)
    ruleset.document = valid
    ruleset.name = valid["name"]
    ruleset.save(update_fields=["document", "name", "updated_at"])
    return ruleset


@transaction.atomic
def ruleset_publish(*, ruleset_id: int, user: "AbstractBaseUser | None" = None, actor_name: str = "") -> Job:
    """Make a draft (or, to roll back, a retired ruleset) the active one and re-evaluate leads.

    Every lead without an open episode that is not a customer is marked for classification in
    this transaction; after commit one task re-evaluates them in id-ordered chunks (the returned
    job shows its progress). The marks make the periodic sweep finish the work if that task is lost.
    """
    ruleset = Ruleset.objects.select_for_update().get(pk=ruleset_id)
    if ruleset.status == RulesetStatus.ACTIVE:
        raise IllegalTransition(f"Ruleset v{ruleset.version} is already the active one.")
    parse_ruleset(ruleset.document)
    previous = Ruleset.objects.select_for_update().filter(status=RulesetStatus.ACTIVE).first()
    now = timezone.now()
    if previous is not None:
        previous.status = RulesetStatus.RETIRED
        previous.save(update_fields=["status", "updated_at"])
    ruleset.status = RulesetStatus.ACTIVE
    ruleset.published_at = now
    ruleset.save(update_fields=["status", "published_at", "updated_at"])
    affected = leads_to_reevaluate()
    total = affected.update(classification_requested_at=now)
    job = job_create(
        kind=RULES_PUBLISH_JOB,
        parameters={"ruleset_id": ruleset.pk, "version": ruleset.version, "marked_at": now.isoformat()},
        user=user,
    )
    Job.objects.filter(pk=job.pk).update(total=total)
    RulesetPublication.objects.create(
        ruleset=ruleset,
        previous=previous,
        published_by_id=user.pk if user else None,
        published_by_name=(user.get_username() if user else actor_name)[:150],
        published_at=now,
        job=job,
    )
    job_set_task(job=job, task_name="leads.tasks.reevaluate_after_publish", args=[job.pk])
    transaction.on_commit(lambda: _enqueue_reevaluation(job.pk))
    job.refresh_from_db()
    return job


def _enqueue_reevaluation(job_id: int) -> None:
    job_enqueue(job_id=job_id)


def leads_to_reevaluate() -> "QuerySet[Lead]":
    """Leads a publish re-evaluates: no open episode, not customers (FUNNEL.md, "Qualification time")."""
    open_episode = Qualification.objects.filter(lead=OuterRef("pk"), stage=EpisodeStage.OPEN)
    return Lead.objects.exclude(stage=LeadStage.CUSTOMER).exclude(Exists(open_episode))


def ruleset_reevaluate(*, job_id: int, chunk_size: int = REEVALUATE_CHUNK) -> int:
    """Classify, in id-ordered chunks, every lead still marked since the publish of this job.

    Runs again from the marks after a crash: leads classified before it are not done twice.
    """
    job = Job.objects.get(pk=job_id)
    if job.is_finished:
        return 0
    marked_at = datetime.fromisoformat(job.parameters["marked_at"])
    pending = Lead.objects.filter(classification_requested_at__lte=marked_at).filter(
        Q(classified_at__isnull=True) | Q(classified_at__lt=F("classification_requested_at"))
    )
    remaining = pending.count()
    total = job.total if job.total is not None else remaining
    job_start(job_id=job_id, total=total, message="Re-evaluating leads without an open QL episode.")
    if total > remaining:
        job_advance(job_id=job_id, by=total - remaining)
    after = 0
    classified = 0
    while True:
        chunk = list(pending.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:chunk_size])
        if not chunk:
            break
        classified += leads_classify(lead_ids=chunk)
        after = chunk[-1]
        job_advance(job_id=job_id, by=len(chunk))
    episodes = Qualification.objects.filter(recorded_at__gte=marked_at, ruleset_version=job.parameters["version"])
    job_succeed(
        job_id=job_id,
        result={"classified": classified, "qualified": episodes.count()},
        message=f"Re-evaluated {total} lead{'s' if total != 1 else ''}.",
    )
    return classified
