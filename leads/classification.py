"""The hook through which every change to a lead's data reaches the classifier.

Changes mark the lead as needing classification and enqueue one task after the transaction
commits. PostgreSQL keeps the mark, so a lost task is found again by the periodic sweep.
"""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone


def request_classification(lead_ids: Iterable[int]) -> None:
    from .models import Lead
    from .tasks import classify_leads

    ids = sorted(set(lead_ids))
    if not ids:
        return
    Lead.objects.filter(pk__in=ids).update(classification_requested_at=timezone.now())
    transaction.on_commit(lambda: classify_leads.delay(ids))
