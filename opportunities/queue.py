"""The reps' qualification queue: open opportunities by bucket priority, then by SLA due time.

Within a bucket the SLA is one number of hours, so "soonest due" is "booked earliest": the queue
is each bucket's opportunities in booking order, one bucket after the other in the rules' order.
Each bucket's slice is read through the (stage, bucket, created_at) index, so a page costs the
same with fifty or fifty thousand opportunities waiting.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, overload

from django.db.models import Count, Q, QuerySet

from .choices import UNQUALIFIED_BUCKET, OpportunityStage
from .models import Opportunity
from .selectors import with_funnel_slice

# Buckets the active rules do not name (and unqualified opportunities) get this service level.
DEFAULT_SLA_HOURS = 72.0


@dataclass(frozen=True)
class BucketPolicy:
    key: str
    label: str
    sla_hours: float


def bucket_policies() -> list[BucketPolicy]:
    """The active ruleset's buckets in priority order; none before any ruleset is published."""
    from leads.selectors import ruleset_active

    ruleset = ruleset_active()
    if ruleset is None:
        return []
    return [
        BucketPolicy(key=bucket["key"], label=bucket.get("label", ""), sla_hours=float(bucket["sla_hours"]))
        for bucket in ruleset.document.get("buckets", [])
    ]


def queue_scope(
    *,
    user_id: int | None,
    include_all_owners: bool = False,
    bucket: str | None = None,
    source: str | None = None,
    owner_id: int | None = None,
    search: str | None = None,
) -> QuerySet[Opportunity]:
    """Open opportunities (awaiting a rep's confirmation) for ``user_id`` or nobody, filtered."""
    scope = Opportunity.objects.filter(stage=OpportunityStage.OPEN)
    if not include_all_owners:
        scope = scope.filter(Q(owner_id=user_id) | Q(owner__isnull=True))
    if owner_id is not None:
        scope = scope.filter(owner_id=owner_id)
    if bucket:
        scope = scope.filter(bucket=bucket)
    if source:
        scope = scope.filter(Q(qualification__source=source) | Q(qualification__isnull=True, lead__source=source))
    if search:
        scope = scope.filter(Q(lead__email__icontains=search) | Q(lead__account__name__icontains=search))
    return scope


def queue_counts(*, scope: QuerySet[Opportunity]) -> dict[str, int]:
    """How many queued opportunities each bucket holds."""
    rows = scope.order_by().values("bucket").annotate(count=Count("pk"))
    return {row["bucket"]: row["count"] for row in rows}


def bucket_order(policies: list[BucketPolicy], present: set[str]) -> list[str]:
    """The rules' buckets in order, then buckets the rules do not name, then unqualified."""
    ruled = [policy.key for policy in policies if policy.key != UNQUALIFIED_BUCKET]
    others = sorted(present - set(ruled) - {UNQUALIFIED_BUCKET})
    return [*ruled, *others, UNQUALIFIED_BUCKET]


class QueueIds:
    """The queue's opportunity ids in order, sliced lazily bucket by bucket (for a Paginator)."""

    def __init__(self, scope: QuerySet[Opportunity], order: list[str], counts: dict[str, int]) -> None:
        self.scope, self.order, self.counts = scope, order, counts

    def count(self) -> int:
        return sum(self.counts.get(bucket, 0) for bucket in self.order)

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[int]:
        return iter(self[0 : self.count()])

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> list[int]: ...
    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        start, stop = index.start or 0, index.stop if index.stop is not None else self.count()
        ids: list[int] = []
        skip, wanted = start, stop - start
        for bucket in self.order:
            size = self.counts.get(bucket, 0)
            if skip >= size:
                skip -= size
                continue
            take = min(wanted - len(ids), size - skip)
            in_bucket = self.scope.filter(bucket=bucket).order_by("created_at", "pk").values_list("pk", flat=True)
            ids.extend(in_bucket[skip : skip + take])
            skip = 0
            if len(ids) >= wanted:
                break
        return ids


def queue_rows(*, ids: list[int]) -> list[Any]:
    """The opportunities with these ids, in this order, with everything the queue page shows."""
    related = Opportunity.objects.filter(pk__in=ids).select_related("lead__account", "qualification", "owner")
    by_id = {row.pk: row for row in with_funnel_slice(related)}
    return [by_id[pk] for pk in ids if pk in by_id]


def due_at(opportunity: Opportunity, policies: list[BucketPolicy]) -> datetime:
    """Booking time plus the bucket's service level."""
    hours = next((p.sla_hours for p in policies if p.key == opportunity.bucket), DEFAULT_SLA_HOURS)
    return opportunity.created_at + timedelta(hours=hours)
