"""Reads of opportunities."""

from collections.abc import Collection
from datetime import datetime, tzinfo
from typing import Any

from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.db.models.functions import TruncWeek

from leads.choices import ObjectType
from leads.models import Qualification, StageTransition
from leads.selectors import transitions_for_object

from .choices import UNQUALIFIED_BUCKET, OpportunityStage
from .models import Opportunity


def with_funnel_slice(opportunities: QuerySet[Opportunity]) -> QuerySet[Any]:
    """Annotate the slice reports use: the episode's source, sub-source and bucket.

    An unqualified opportunity (no episode) has bucket ``unqualified`` and the lead's first-touch
    source and sub-source (FUNNEL.md, "Weekly report").
    """
    unqualified = Q(qualification__isnull=True)
    return opportunities.annotate(
        funnel_bucket=Case(When(unqualified, then=Value(UNQUALIFIED_BUCKET)), default=F("qualification__bucket")),
        funnel_source=Case(When(unqualified, then=F("lead__source")), default=F("qualification__source")),
        funnel_sub_source=Case(When(unqualified, then=F("lead__sub_source")), default=F("qualification__sub_source")),
    )


def _filtered(*, owner_id: int | None, unassigned: bool, bucket: str | None) -> QuerySet[Opportunity]:
    opportunities = Opportunity.objects.all()
    if owner_id is not None:
        opportunities = opportunities.filter(owner_id=owner_id)
    if unassigned:
        opportunities = opportunities.filter(owner__isnull=True)
    if bucket == UNQUALIFIED_BUCKET:
        opportunities = opportunities.filter(qualification__isnull=True)
    elif bucket:
        opportunities = opportunities.filter(qualification__bucket=bucket)
    return opportunities


def opportunities_for_list(
    *,
    stages: Collection[str] | None = None,
    owner_id: int | None = None,
    unassigned: bool = False,
    bucket: str | None = None,
) -> QuerySet[Opportunity]:
    """Opportunities newest first with their lead, account, episode, owner and reason.

    ``stages`` None means every stage; each row carries ``funnel_bucket``, ``funnel_source`` and
    ``funnel_sub_source``.
    """
    opportunities = _filtered(owner_id=owner_id, unassigned=unassigned, bucket=bucket)
    if stages is not None:
        opportunities = opportunities.filter(stage__in=stages)
    related = opportunities.select_related("lead__account", "qualification", "owner", "reason")
    return with_funnel_slice(related).order_by("-created_at", "-pk")


def opportunity_stage_counts(
    *, owner_id: int | None = None, unassigned: bool = False, bucket: str | None = None
) -> dict[str, int]:
    """How many opportunities are in each stage, under the same owner and bucket filters as the list."""
    counts = {stage: Count("pk", filter=Q(stage=stage)) for stage in OpportunityStage.values}
    return _filtered(owner_id=owner_id, unassigned=unassigned, bucket=bucket).aggregate(**counts)


def opportunity_bucket_options() -> list[str]:
    """The buckets opportunities can be filtered by: those of linked episodes, then ``unqualified``."""
    buckets = (
        Qualification.objects.filter(opportunity__isnull=False)
        .exclude(bucket="")
        .values_list("bucket", flat=True)
        .distinct()
        .order_by("bucket")
    )
    return [*buckets, UNQUALIFIED_BUCKET]


def opportunities_for_api(
    *, stage: str | None = None, owner: str | None = None, lead_email: str | None = None
) -> QuerySet[Opportunity]:
    """Opportunities newest first, with the funnel slice; filters as the API names them."""
    opportunities = Opportunity.objects.select_related("lead", "qualification", "owner", "reason")
    if stage:
        opportunities = opportunities.filter(stage=stage)
    if owner:
        opportunities = opportunities.filter(owner__username=owner)
    if lead_email:
        opportunities = opportunities.filter(lead__email=lead_email.strip().lower())
    return with_funnel_slice(opportunities).order_by("-created_at", "-pk")


def opportunity_history(*, opportunity_id: int) -> QuerySet[StageTransition]:
    return transitions_for_object(object_type=ObjectType.OPPORTUNITY, object_id=opportunity_id)


def opportunity_for_page(*, opportunity_id: int) -> Opportunity:
    """One opportunity with everything its page shows in one query."""
    related = Opportunity.objects.select_related("lead__account", "lead__owner", "qualification", "owner", "reason")
    return with_funnel_slice(related).get(pk=opportunity_id)


def disqualification_by_bucket(*, since: datetime) -> list[dict[str, Any]]:
    """Per bucket since ``since``: opportunities booked, how many were disqualified, and why.

    Buckets follow the funnel slice, so unqualified opportunities form their own row.
    """
    booked: QuerySet[Any] = with_funnel_slice(Opportunity.objects.filter(created_at__gte=since))
    totals = {
        row["funnel_bucket"]: row
        for row in booked.values("funnel_bucket").annotate(
            booked=Count("pk"), disqualified=Count("pk", filter=Q(stage=OpportunityStage.DISQUALIFIED))
        )
    }
    reasons = (
        booked.filter(stage=OpportunityStage.DISQUALIFIED)
        .values("funnel_bucket", "reason__code", "reason__label")
        .annotate(count=Count("pk"))
        .order_by("funnel_bucket", "-count", "reason__code")
    )
    by_bucket: dict[str, list[dict[str, Any]]] = {}
    for row in reasons:
        by_bucket.setdefault(row["funnel_bucket"], []).append(
            {"code": row["reason__code"], "label": row["reason__label"], "count": row["count"]}
        )
    return [
        {
            "bucket": bucket,
            "booked": row["booked"],
            "disqualified": row["disqualified"],
            "rate": row["disqualified"] / row["booked"] if row["booked"] else None,
            "reasons": by_bucket.get(bucket, []),
        }
        for bucket, row in sorted(totals.items())
    ]


def disqualification_reasons_by_week(*, since: datetime, tz: tzinfo) -> list[dict[str, Any]]:
    """Disqualifications per ISO week of closing (in ``tz``), bucket and reason, oldest week first."""
    disqualified: QuerySet[Any] = with_funnel_slice(
        Opportunity.objects.filter(stage=OpportunityStage.DISQUALIFIED, closed_at__gte=since)
    )
    rows = (
        disqualified.annotate(week=TruncWeek("closed_at", tzinfo=tz))
        .values("week", "funnel_bucket", "reason__code")
        .annotate(count=Count("pk"))
        .order_by("week", "funnel_bucket", "-count")
    )
    return [
        {
            "week": row["week"].astimezone(tz).date(),
            "bucket": row["funnel_bucket"],
            "reason": row["reason__code"],
            "count": row["count"],
        }
        for row in rows
    ]
