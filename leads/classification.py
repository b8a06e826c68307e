"""The hook through which every change to a lead's data reaches the classifier.

Changes mark the lead as needing classification and, once the transaction commits, enqueue one
task for all the leads the transaction touched. PostgreSQL keeps the mark, so a lost task is
found again by the periodic sweep.
"""

import threading
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

_pending = threading.local()


def request_classification(lead_ids: Iterable[int]) -> None:
    from .models import Lead

    ids = set(lead_ids)
    if not ids:
        return
    Lead.objects.filter(pk__in=ids).update(classification_requested_at=timezone.now())
    _pending.__dict__.setdefault("ids", set()).update(ids)
    # Each request registers a flush; the first one to run after commit sends every pending id in
    # one task and the others find nothing left. Ids left by a rolled-back transaction go out with
    # the next commit: classifying a lead again is harmless.
    transaction.on_commit(_enqueue_pending)


def _enqueue_pending() -> None:
    from .tasks import classify_leads

    ids = _pending.__dict__.pop("ids", set())
    if ids:
        classify_leads.delay(sorted(ids))
