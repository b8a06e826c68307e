"""The hook through which every change to a lead's data reaches the classifier.

Changes mark the lead as needing classification and, once the transaction commits, enqueue one
task for all the leads the transaction touched. PostgreSQL keeps the mark, so a lost task is
found again by the periodic sweep.
"""

from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from funnel.celery import send_unless_broker_down


class _ClassificationBatch:
    """The leads one transaction asked to classify; runs once, after that transaction commits.

    It lives in the connection's on-commit list, so a rollback discards it with the transaction.
    """

    def __init__(self, lead_ids: set[int]) -> None:
        self.lead_ids = lead_ids

    def __call__(self) -> None:
        from .tasks import classify_leads

        count = len(self.lead_ids)
        send_unless_broker_down(
            lambda: classify_leads.delay(sorted(self.lead_ids)),
            consequence=f"{count} {'lead waits' if count == 1 else 'leads wait'} for the classification sweep.",
        )


def request_classification(lead_ids: Iterable[int]) -> None:
    ids = set(lead_ids)
    if not ids:
        return
    _mark_requested(sorted(ids))
    batch = _current_batch()
    if batch is None:
        transaction.on_commit(_ClassificationBatch(ids))
    else:
        batch.lead_ids |= ids


def _mark_requested(lead_ids: list[int]) -> None:
    from .models import Lead

    now = timezone.now()
    if connection.vendor != "postgresql":
        Lead.objects.filter(pk__in=lead_ids).update(classification_requested_at=now)
        return
    # Rows are locked in id order, as the classifier's update locks them: concurrent batches that
    # share leads then wait for each other instead of deadlocking.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE leads_lead SET classification_requested_at = %s
            WHERE id IN (SELECT id FROM leads_lead WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE)
            """,
            [now, lead_ids],
        )


def _current_batch() -> _ClassificationBatch | None:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return None
    for _savepoints, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _ClassificationBatch):
            return callback
    return None
