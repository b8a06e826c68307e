"""Reads the ingestion API serves: leads with their history, activities with their keys."""

from datetime import datetime

from django.db.models import Prefetch, QuerySet

from leads.models import Activity, Lead, Qualification
from leads.selectors import leads_for_list
from opportunities.models import Opportunity


def leads_for_api(
    *, email: str | None = None, stage: str | None = None, bucket: str | None = None, source: str | None = None
) -> QuerySet[Lead]:
    leads = leads_for_list(stage=stage, source=source, bucket=bucket)
    if email:
        leads = leads.filter(email=email.strip().lower())
    return leads


def lead_with_history() -> QuerySet[Lead]:
    """Leads with their episodes (newest first, with their opportunity) and opportunities."""
    return Lead.objects.select_related("account", "owner").prefetch_related(
        Prefetch(
            "qualifications",
            queryset=Qualification.objects.select_related("opportunity").order_by("-qualified_at", "-pk"),
        ),
        Prefetch(
            "opportunities", queryset=Opportunity.objects.select_related("owner", "reason").order_by("-created_at")
        ),
    )


def activities_for_api(
    *, email: str | None = None, kind: str | None = None, since: datetime | None = None
) -> QuerySet[Activity]:
    activities = Activity.objects.select_related("lead")
    if email:
        activities = activities.filter(lead__email=email.strip().lower())
    if kind:
        activities = activities.filter(kind=kind)
    if since is not None:
        activities = activities.filter(occurred_at__gte=since)
    return activities.order_by("-occurred_at", "-pk")
