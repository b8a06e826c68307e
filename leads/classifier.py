"""Classification of a batch of leads against the active ruleset (FUNNEL.md, "Scores").

One pass per batch: the leads with their accounts in one query, their episodes in two, their
activities streamed in (lead, time, idempotency key) order in one; scoring is leads.scoring.
A lead without an open episode is replayed from the end of its previous episode; the first
activity at which it qualifies opens an episode through ``qualification_open``. Existing
episodes are never rewritten, and customers start none.
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from . import scoring
from .choices import EpisodeStage, LeadStage
from .errors import FunnelError
from .models import Activity, FreeMailDomain, Lead, Qualification, Ruleset
from .transitions import Actor

CLASSIFIER = Actor.system("classifier")

LEAD_FIELDS = (
    "pk",
    "email",
    "title",
    "country",
    "traits",
    "stage",
    "account_id",
    "account__domain",
    "account__employee_count",
    "account__annual_revenue",
    "account__industry",
    "account__country",
    "account__traits",
)
ACTIVITY_FIELDS = ("lead_id", "pk", "kind", "name", "occurred_at", "source_system", "external_id", "properties")

_parsed: dict[tuple[int, datetime], scoring.Rules] = {}


@dataclass(frozen=True)
class LeadEvaluation:
    """What the classifier found for one lead at ``at``."""

    lead_id: int
    fit: scoring.FitResult
    intent: scoring.IntentResult
    since: datetime | None
    qualifying: scoring.Qualifying | None

    def explanation(self, rules: scoring.Rules) -> dict[str, Any]:
        intent = self.qualifying.intent if self.qualifying else self.intent
        return scoring.explain(rules, self.fit, intent, qualifying=self.qualifying, since=self.since)


def rules_of(ruleset: Ruleset) -> scoring.Rules:
    """The parsed rules of a ruleset, cached while the row is unchanged."""
    key = (ruleset.pk, ruleset.updated_at)
    rules = _parsed.get(key)
    if rules is None:
        rules = scoring.parse_ruleset(ruleset.document, version=ruleset.version)
        if len(_parsed) > 32:
            _parsed.clear()
        _parsed[key] = rules
    return rules


def active_rules() -> scoring.Rules | None:
    """The active ruleset's rules; the document is read only when the active row changed."""
    row = Ruleset.objects.filter(status="active").values_list("pk", "updated_at").first()
    if row is None:
        return None
    rules = _parsed.get(row)
    if rules is None:
        ruleset = Ruleset.objects.get(pk=row[0])
        rules = rules_of(ruleset)
    return rules


def lead_facts(row: Mapping[str, Any], free_domains: frozenset[str]) -> dict[str, Any]:
    """A lead's fit fields, from a row of ``LEAD_FIELDS``."""
    domain = row["email"].rsplit("@", 1)[-1]
    revenue = row["account__annual_revenue"]
    has_account = row["account_id"] is not None
    return {
        "account.employee_count": row["account__employee_count"],
        "account.annual_revenue": float(revenue) if revenue is not None else None,
        "account.industry": row["account__industry"],
        "account.country": row["account__country"],
        "account.domain": row["account__domain"],
        "account.traits": row["account__traits"] if has_account else None,
        "lead.title": row["title"],
        "lead.country": row["country"],
        "lead.email_domain_type": "free" if domain in free_domains else "business",
        "lead.traits": row["traits"],
    }


def activities_by_lead(lead_ids: list[int], until: datetime) -> Iterator[tuple[int, list[scoring.ActivityFact]]]:
    rows = (
        Activity.objects.filter(lead_id__in=lead_ids, occurred_at__lte=until)
        .order_by("lead_id", "occurred_at", "source_system", "external_id")
        .values_list(*ACTIVITY_FIELDS)
        .iterator(chunk_size=10_000)
    )
    for lead_id, group in groupby(rows, key=lambda row: row[0]):
        yield (
            lead_id,
            [
                scoring.ActivityFact(
                    id=pk,
                    kind=kind,
                    name=name,
                    occurred_at=occurred_at,
                    key=(source_system, external_id),
                    properties=properties or {},
                )
                for _, pk, kind, name, occurred_at, source_system, external_id, properties in group
            ],
        )


def evaluate(
    rules: scoring.Rules,
    *,
    facts: Mapping[str, Any],
    activities: Iterable[scoring.ActivityFact],
    at: datetime,
    since: datetime | None,
    may_qualify: bool,
) -> tuple[scoring.FitResult, scoring.IntentResult, scoring.Qualifying | None]:
    fit = scoring.score_fit(rules, facts)
    intent, qualifying = scoring.evaluate_lead(rules, fit, activities, at=at, since=since, may_qualify=may_qualify)
    return fit, intent, qualifying


def evaluate_leads(
    rules: scoring.Rules, lead_ids: list[int], at: datetime
) -> tuple[list[LeadEvaluation], dict[int, str]]:
    """Evaluate leads at ``at``; returns the evaluations and the bucket of each open episode."""
    rows = list(Lead.objects.filter(pk__in=lead_ids).order_by("pk").values(*LEAD_FIELDS))
    ids = [row["pk"] for row in rows]
    if not ids:
        return [], {}
    domains = {row["email"].rsplit("@", 1)[-1] for row in rows}
    free = frozenset(FreeMailDomain.objects.filter(domain__in=domains).values_list("domain", flat=True))
    open_buckets: dict[int, str] = {}
    last_end: dict[int, datetime] = {}
    episodes = Qualification.objects.filter(lead_id__in=ids).values_list("lead_id", "stage", "ended_at", "bucket")
    for lead_id, stage, ended_at, bucket in episodes:
        if stage == EpisodeStage.OPEN:
            open_buckets[lead_id] = bucket
        elif ended_at is not None and (lead_id not in last_end or ended_at > last_end[lead_id]):
            last_end[lead_id] = ended_at
    activities = dict(activities_by_lead(ids, at))
    evaluations = []
    for row in rows:
        lead_id = row["pk"]
        since = last_end.get(lead_id)
        fit, intent, qualifying = evaluate(
            rules,
            facts=lead_facts(row, free),
            activities=activities.get(lead_id, []),
            at=at,
            since=since,
            may_qualify=lead_id not in open_buckets and row["stage"] != LeadStage.CUSTOMER,
        )
        evaluations.append(LeadEvaluation(lead_id, fit, intent, since, qualifying))
    return evaluations, open_buckets


def classify(lead_ids: list[int]) -> int:
    """Classify these leads against the active ruleset; returns how many leads were seen."""
    from .services import EpisodeOpening, qualification_open, qualifications_open_many

    started = timezone.now()
    rules = active_rules()
    if rules is None:
        return _mark_seen(sorted(set(lead_ids)), started)
    # Every lead asked for is evaluated, pending or not: a request's mark is written before its
    # transaction commits, so a run that started in between looks newer than a change it never saw.
    evaluations, buckets = evaluate_leads(rules, sorted(set(lead_ids)), started)
    openings = [
        EpisodeOpening(
            lead_id=evaluation.lead_id,
            qualified_at=evaluation.qualifying.at,
            source=evaluation.qualifying.source,
            bucket=evaluation.qualifying.bucket.bucket.key,
            fit_score=evaluation.fit.score,
            intent_score=round(evaluation.qualifying.intent.score, 4),
            ruleset_version=rules.version,
            explanation=evaluation.explanation(rules),
        )
        for evaluation in evaluations
        if evaluation.qualifying is not None
    ]
    if len(openings) == 1:
        opening = openings[0]
        try:
            qualification_open(
                lead_id=opening.lead_id,
                qualified_at=opening.qualified_at,
                source=opening.source,
                actor=CLASSIFIER,
                bucket=opening.bucket,
                fit_score=opening.fit_score,
                intent_score=opening.intent_score,
                ruleset_version=opening.ruleset_version,
                explanation=opening.explanation,
            )
        except FunnelError:
            # Another run opened an episode first, or the lead became a customer meanwhile:
            # the next run sees the new state.
            openings = []
    elif openings:
        opened = qualifications_open_many(openings=openings, actor=CLASSIFIER)
        openings = [opening for opening in openings if opening.lead_id in opened]
    for opening in openings:
        buckets[opening.lead_id] = opening.bucket
    _store_scores(evaluations, buckets, rules.version, started)
    return len(evaluations)


def _mark_seen(lead_ids: list[int], at: datetime) -> int:
    if connection.vendor != "postgresql":
        return Lead.objects.filter(pk__in=lead_ids).update(classified_at=at)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE leads_lead SET classified_at = %s
            WHERE id IN (SELECT id FROM leads_lead WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE)
            """,
            [at, lead_ids],
        )
        return cursor.rowcount


def _store_scores(
    evaluations: list[LeadEvaluation], buckets: dict[int, str], version: int | None, at: datetime
) -> None:
    values = [
        (e.lead_id, e.fit.score, round(e.intent.score, 4), buckets.get(e.lead_id, ""), version) for e in evaluations
    ]
    if not values:
        return
    if connection.vendor == "postgresql":
        # Locked in id order like request_classification's mark, so the two never deadlock; a
        # lead that a run started later has already stored keeps that newer result.
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE leads_lead AS lead
                SET fit_score = v.fit, intent_score = v.intent, bucket = v.bucket,
                    ruleset_version = v.version, classified_at = %s
                FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::varchar[], %s::int[])
                    AS v(id, fit, intent, bucket, version)
                WHERE lead.id = v.id AND lead.id IN (
                    SELECT id FROM leads_lead WHERE id = ANY(%s) AND (classified_at IS NULL OR classified_at < %s)
                    ORDER BY id FOR NO KEY UPDATE
                )
                """,
                [at, *map(list, zip(*values, strict=True)), [value[0] for value in values], at],
            )
        return
    not_newer = Lead.objects.filter(Q(classified_at__isnull=True) | Q(classified_at__lt=at))
    if len(values) == 1:
        pk, fit, intent, bucket, ver = values[0]
        not_newer.filter(pk=pk).update(
            fit_score=fit, intent_score=intent, bucket=bucket, ruleset_version=ver, classified_at=at
        )
        return
    storable = set(not_newer.filter(pk__in=[value[0] for value in values]).values_list("pk", flat=True))
    leads = [
        Lead(pk=pk, fit_score=fit, intent_score=intent, bucket=bucket, ruleset_version=ver, classified_at=at)
        for pk, fit, intent, bucket, ver in values
        if pk in storable
    ]
    Lead.objects.bulk_update(
        leads, ["fit_score", "intent_score", "bucket", "ruleset_version", "classified_at"], batch_size=500
    )
