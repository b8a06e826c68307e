"""Reads of leads and their history."""

from datetime import datetime

from django.db.models import F, Q, QuerySet

from .models import Lead, StageTransition


def leads_pending_classification(*, requested_before: datetime) -> QuerySet[Lead]:
    """Leads whose data changed after their last classification, oldest request first."""
    return (
        Lead.objects.filter(classification_requested_at__lt=requested_before)
        .filter(Q(classified_at__isnull=True) | Q(classified_at__lt=F("classification_requested_at")))
        .order_by("classification_requested_at")
    )


def transitions_for_object(*, object_type: str, object_id: int) -> QuerySet[StageTransition]:
    return StageTransition.objects.filter(object_type=object_type, object_id=object_id).order_by("effective_at", "id")
