"""The hook through which every change to a lead's data reaches the classifier.

Changes mark the lead as needing classification and, once the transaction commits, enqueue one
task for all the leads the transaction touched. PostgreSQL keeps the mark, so a lost task is
found again by the periodic sweep.
"""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone


class _ClassificationBatch:
    """The leads one transaction asked to classify; runs once, after that transaction commits.

    It lives in the connection's on-commit list, so a rollback discards it with the transaction.
    """

    def __init__(self, lead_ids: set[int]) -> None:
        self.lead_ids = lead_ids

    def __call__(self) -> None:
        from .tasks import classify_leads

        classify_leads.delay(sorted(self.lead_ids))


def request_classification(lead_ids: Iterable[int]) -> None:
    from .models import Lead

    ids = set(lead_ids)
    if not ids:
        return
    Lead.objects.filter(pk__in=ids).update(classification_requested_at=timezone.now())
    batch = _current_batch()
    if batch is None:
        transaction.on_commit(_ClassificationBatch(ids))
    else:
        batch.lead_ids |= ids


def _current_batch() -> _ClassificationBatch | None:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return None
    for _savepoints, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _ClassificationBatch):
            return callback
    return None
