"""Opportunity lifecycle: booking a meeting, then qualify, disqualify, win or lose.

Every service locks the lead, then the opportunity (always in that order), checks the move
against OPPORTUNITY_TRANSITIONS, and logs each step in the same transaction.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from leads.choices import ActivityKind, ActorKind, EpisodeStage, LeadStage, ObjectType
from leads.errors import InvalidInput
from leads.models import Activity, Lead
from leads.services import activity_record, lead_lock, lead_move_stage, leads_classify, qualification_end
from leads.transitions import Actor, effective_time, log_transition, transition_steps

from .assignment import opportunity_assign_next
from .choices import (
    OPEN_STAGES,
    OPPORTUNITY_MAIN_PATH,
    OPPORTUNITY_TRANSITIONS,
    UNQUALIFIED_BUCKET,
    OpportunityStage,
    ReasonUse,
)
from .models import Opportunity, ReasonCode

MEETING_BOOKED = "Meeting Booked"
# Raises (e.g. PermissionDenied) when the caller may not act on the locked opportunity.
Authorize = Callable[[Opportunity], None]


@dataclass(frozen=True)
class Booking:
    activity: Activity
    opportunity: Opportunity | None
    created: bool


def _open_opportunity(lead: Lead) -> Opportunity | None:
    return lead.opportunities.filter(stage__in=OPEN_STAGES).first()


@transaction.atomic
def meeting_book(
    *,
    email: str,
    actor: Actor,
    booked_at: datetime | None = None,
    scheduled_for: datetime | None = None,
    source_system: str = "api",
    external_id: str | None = None,
) -> Booking:
    """A lead books a meeting with sales (FUNNEL.md, "Episodes, opportunities and milestones").

    Records a ``meeting`` activity, classifies the lead (the meeting may itself make it a QL),
    then opens an opportunity at the booking time, linked to the QL episode open at that time.
    Customers and leads with an open opportunity only get the activity. A redelivered booking
    (same ``source_system`` and ``external_id``) changes nothing.
    """
    moment = effective_time(at=booked_at, actor=actor, not_before=None)
    activity, new = activity_record(
        email=email,
        kind=ActivityKind.MEETING,
        name=MEETING_BOOKED,
        occurred_at=moment,
        properties={"scheduled_for": scheduled_for.isoformat()} if scheduled_for else {},
        source_system=source_system,
        external_id=external_id or uuid.uuid4().hex,
    )
    if not new:
        existing = Opportunity.objects.filter(source_system=source_system, external_id=activity.external_id).first()
        return Booking(activity=activity, opportunity=existing, created=False)
    leads_classify(lead_ids=[activity.lead_id])
    lead = lead_lock(lead_id=activity.lead_id)
    if lead.stage == LeadStage.CUSTOMER:
        return Booking(activity=activity, opportunity=None, created=False)
    current = _open_opportunity(lead)
    if current is not None:
        return Booking(activity=activity, opportunity=current, created=False)
    episode = lead.qualifications.filter(stage=EpisodeStage.OPEN, qualified_at__lte=moment).first()
    opportunity = Opportunity.objects.create(
        lead=lead,
        qualification=episode,
        bucket=episode.bucket if episode is not None else UNQUALIFIED_BUCKET,
        created_at=moment,
        scheduled_for=scheduled_for,
        source_system=source_system,
        external_id=activity.external_id,
    )
    _log(opportunity, "", OpportunityStage.OPEN, moment, actor)
    lead_move_stage(lead=lead, to_stage=LeadStage.OPPORTUNITY, at=moment, actor=actor)
    opportunity_assign_next(opportunity=opportunity)
    return Booking(activity=activity, opportunity=opportunity, created=True)


def opportunity_qualify(
    *, opportunity_id: int, actor: Actor, at: datetime | None = None, authorize: Authorize | None = None
) -> Opportunity:
    """A rep confirms the fit: the opportunity becomes a Qualified Opportunity (QO)."""
    return _move(
        opportunity_id=opportunity_id, target=OpportunityStage.QUALIFIED, actor=actor, at=at, authorize=authorize
    )


def opportunity_disqualify(
    *,
    opportunity_id: int,
    reason: str,
    actor: Actor,
    note: str = "",
    at: datetime | None = None,
    authorize: Authorize | None = None,
) -> Opportunity:
    """A rep rejects an open opportunity; ``reason`` is a reason code."""
    return _move(
        opportunity_id=opportunity_id,
        target=OpportunityStage.DISQUALIFIED,
        actor=actor,
        at=at,
        reason=_reason_code(reason, ReasonUse.DISQUALIFY),
        note=note,
        authorize=authorize,
    )


def opportunity_win(
    *,
    opportunity_id: int,
    actor: Actor,
    amount: Decimal | None = None,
    at: datetime | None = None,
    authorize: Authorize | None = None,
) -> Opportunity:
    """Closed won. From ``open`` this passes through ``qualified`` at the same moment."""
    if amount is not None and amount < 0:
        raise InvalidInput("The amount cannot be negative.", field="amount")
    return _move(
        opportunity_id=opportunity_id,
        target=OpportunityStage.WON,
        actor=actor,
        at=at,
        amount=amount,
        authorize=authorize,
    )


def opportunity_lose(
    *,
    opportunity_id: int,
    reason: str,
    actor: Actor,
    note: str = "",
    at: datetime | None = None,
    authorize: Authorize | None = None,
) -> Opportunity:
    """Closed lost; only a qualified opportunity can be lost."""
    return _move(
        opportunity_id=opportunity_id,
        target=OpportunityStage.LOST,
        actor=actor,
        at=at,
        reason=_reason_code(reason, ReasonUse.LOSE),
        note=note,
        authorize=authorize,
    )


def _reason_code(code: str, use: str) -> ReasonCode:
    if not code:
        raise InvalidInput("A reason is required.", field="reason")
    reason = ReasonCode.objects.filter(code=code, active=True, used_for__in=[use, ReasonUse.BOTH]).first()
    if reason is None:
        raise InvalidInput(f"'{code}' is not a reason code for this action.", field="reason")
    return reason


@transaction.atomic
def _move(
    *,
    opportunity_id: int,
    target: str,
    actor: Actor,
    at: datetime | None,
    reason: ReasonCode | None = None,
    note: str = "",
    amount: Decimal | None = None,
    authorize: Authorize | None = None,
) -> Opportunity:
    lead_id = Opportunity.objects.values_list("lead_id", flat=True).get(pk=opportunity_id)
    lead = lead_lock(lead_id=lead_id)
    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity_id)
    if authorize is not None:
        # Checked again under the lock: another rep may have taken the opportunity meanwhile.
        authorize(opportunity)
    steps = transition_steps(
        OPPORTUNITY_TRANSITIONS, opportunity.stage, target, main_path=OPPORTUNITY_MAIN_PATH, what="opportunity"
    )
    last_milestone = opportunity.qualified_at or opportunity.created_at
    moment = effective_time(at=at, actor=actor, not_before=last_milestone)
    reason_code = reason.code if reason else ""
    for step in steps:
        _log(opportunity, opportunity.stage, step, moment, actor, reason_code)
        opportunity.stage = step
        if step == OpportunityStage.QUALIFIED:
            opportunity.qualified_at = moment
            lead_move_stage(lead=lead, to_stage=LeadStage.QO, at=moment, actor=actor)
        else:
            opportunity.closed_at = moment
            _close_episode_and_lead(lead, opportunity, moment, actor, reason_code)
    opportunity.reason = reason
    opportunity.reason_note = note
    opportunity.amount = amount
    if opportunity.owner_id is None and actor.kind == ActorKind.USER:
        # The rep who works an unassigned opportunity takes it.
        opportunity.owner_id = actor.user_id
    opportunity.save()
    return opportunity


def _close_episode_and_lead(lead: Lead, opportunity: Opportunity, at: datetime, actor: Actor, reason: str) -> None:
    """Closing an opportunity ends its QL episode; the lead becomes a customer or may qualify again."""
    outcome = opportunity.stage
    if opportunity.qualification is not None:
        qualification_end(
            lead=lead, episode=opportunity.qualification, outcome=outcome, at=at, actor=actor, reason=reason
        )
    if outcome == OpportunityStage.WON:
        next_stage = LeadStage.CUSTOMER
    elif lead.qualifications.filter(stage=EpisodeStage.OPEN).exists():
        next_stage = LeadStage.QL
    else:
        next_stage = LeadStage.RECYCLED
    lead_move_stage(lead=lead, to_stage=next_stage, at=at, actor=actor, reason=reason)


def _log(
    opportunity: Opportunity, from_stage: str, to_stage: str, at: datetime, actor: Actor, reason: str = ""
) -> None:
    episode = opportunity.qualification
    log_transition(
        lead_id=opportunity.lead_id,
        object_type=ObjectType.OPPORTUNITY,
        object_id=opportunity.pk,
        from_stage=from_stage,
        to_stage=to_stage,
        at=at,
        actor=actor,
        reason=reason,
        ruleset_version=episode.ruleset_version if episode else None,
    )
