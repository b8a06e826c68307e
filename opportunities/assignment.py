"""Who works a new opportunity: the next available rep of the team that owns its bucket."""

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from leads.errors import InvalidInput

from .choices import OPEN_STAGES, UNQUALIFIED_BUCKET
from .models import Opportunity, Team, TeamMember


def team_for_bucket(bucket: str) -> Team | None:
    """The first team, by name, that lists the bucket."""
    for team in Team.objects.order_by("name"):
        if bucket in team.buckets:
            return team
    return None


def next_available_member(team: Team) -> TeamMember | None:
    """Round robin: the longest-waiting rep who is not away and is under their cap."""
    members = (
        TeamMember.objects.filter(team=team, away=False, user__is_active=True)
        .annotate(open_count=Count("user__opportunities", filter=Q(user__opportunities__stage__in=OPEN_STAGES)))
        .filter(Q(max_open__isnull=True) | Q(open_count__lt=F("max_open")))
        .order_by(F("last_assigned_at").asc(nulls_first=True), "pk")
    )
    return members.first()


def opportunity_assign_next(*, opportunity: Opportunity) -> TeamMember | None:
    """Give an unassigned opportunity to the next rep of its bucket's team; None when nobody is free.

    The team row is locked so two bookings at once do not pick the same rep twice in a row.
    """
    if opportunity.owner_id is not None:
        return None
    bucket = opportunity.qualification.bucket if opportunity.qualification else UNQUALIFIED_BUCKET
    team = team_for_bucket(bucket)
    if team is None:
        return None
    with transaction.atomic():
        Team.objects.select_for_update().get(pk=team.pk)
        member = next_available_member(team)
        if member is None:
            return None
        Opportunity.objects.filter(pk=opportunity.pk).update(owner_id=member.user_id)
        opportunity.owner_id = member.user_id
        TeamMember.objects.filter(pk=member.pk).update(last_assigned_at=timezone.now())
    return member


@transaction.atomic
def opportunity_reassign(*, opportunity_id: int, owner_id: int | None) -> Opportunity:
    """An admin hands an opportunity to another rep (or back to nobody)."""
    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity_id)
    if opportunity.stage not in OPEN_STAGES:
        raise InvalidInput("A closed opportunity keeps the owner who closed it.", field="owner")
    opportunity.owner_id = owner_id
    opportunity.save(update_fields=["owner"])
    return opportunity
