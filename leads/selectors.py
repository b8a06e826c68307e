"""Reads of leads and their history."""

from datetime import datetime

from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from .choices import EpisodeStage
from .models import Activity, Lead, Qualification, StageTransition


def leads_pending_classification(*, requested_before: datetime) -> QuerySet[Lead]:
    """Leads whose data changed after their last classification, oldest request first."""
    return (
        Lead.objects.filter(classification_requested_at__lt=requested_before)
        .filter(Q(classified_at__isnull=True) | Q(classified_at__lt=F("classification_requested_at")))
        .order_by("classification_requested_at")
    )


def transitions_for_object(*, object_type: str, object_id: int) -> QuerySet[StageTransition]:
    return StageTransition.objects.filter(object_type=object_type, object_id=object_id).order_by("effective_at", "id")


def leads_for_list(
    *,
    stage: str | None = None,
    source: str | None = None,
    bucket: str | None = None,
    search: str | None = None,
) -> QuerySet[Lead]:
    """Leads newest first, with their account and ``open_bucket``: the bucket of their open QL episode."""
    open_episode_bucket = Qualification.objects.filter(lead=OuterRef("pk"), stage=EpisodeStage.OPEN).values("bucket")
    leads = Lead.objects.select_related("account").annotate(open_bucket=Subquery(open_episode_bucket[:1]))
    if stage:
        leads = leads.filter(stage=stage)
    if source:
        leads = leads.filter(source=source)
    if bucket:
        leads = leads.filter(qualifications__stage=EpisodeStage.OPEN, qualifications__bucket=bucket)
    if search:
        leads = leads.filter(
            Q(email__icontains=search) | Q(account__name__icontains=search) | Q(account__domain__icontains=search)
        )
    return leads.order_by("-created_at", "-pk")


def lead_bucket_options() -> list[str]:
    """The buckets of open QL episodes, for filtering leads by their current bucket."""
    buckets = (
        Qualification.objects.filter(stage=EpisodeStage.OPEN)
        .exclude(bucket="")
        .values_list("bucket", flat=True)
        .distinct()
        .order_by("bucket")
    )
    return list(buckets)


def lead_timeline(*, lead_id: int, limit: int = 50) -> QuerySet[Activity]:
    """A lead's most recent activities, newest first."""
    return Activity.objects.filter(lead_id=lead_id).order_by("-occurred_at", "-pk")[:limit]
