"""Reads of leads and their history."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from . import classifier, scoring
from .choices import EpisodeStage, LeadStage, ObjectType, RulesetStatus
from .models import Activity, FreeMailDomain, Lead, Qualification, Ruleset, RulesetPublication, StageTransition


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


# ---------------------------------------------------------------- rules


def ruleset_active() -> Ruleset | None:
    return Ruleset.objects.filter(status=RulesetStatus.ACTIVE).first()


def rulesets_for_list() -> QuerySet[Ruleset]:
    return Ruleset.objects.select_related("created_by").order_by("-version")


def ruleset_publications() -> QuerySet[RulesetPublication]:
    """Every publish, newest first, with the ruleset it replaced (for a diff) and its job."""
    return RulesetPublication.objects.select_related("ruleset", "previous", "published_by", "job").order_by(
        "-published_at", "-pk"
    )


def ruleset_rules(*, ruleset: Ruleset) -> scoring.Rules:
    return classifier.rules_of(ruleset)


def _rule_text(rule: Mapping[str, Any], *, kind: str) -> str:
    if kind == "fit":
        condition = scoring.Condition(rule["field"], rule["op"], rule.get("value")).describe()
        return f"{condition}: {rule['points']:+g} points"
    if kind == "intent":
        names = f" named {', '.join(rule['names'])}" if rule.get("names") else ""
        conditions = "".join(
            f" where {scoring.Condition(c['field'], c['op'], c.get('value')).describe()}"
            for c in rule.get("conditions", [])
        )
        limit = f", the {rule['max_count']} most recent" if rule.get("max_count") else ""
        return f"{rule['kind']} activities{names}{conditions}: {rule['points']:+g} points{limit}"
    parts = [f"{key.replace('_', ' ')} {rule[key]}" for key in ("min_fit", "min_intent") if rule.get(key) is not None]
    if rule.get("sources"):
        parts.append(f"sources {', '.join(rule['sources'])}")
    when = " when " + ", ".join(parts) if parts else " (every remaining QL)"
    return f"{rule['label']}: {rule.get('experience') or 'no experience given'}, SLA {rule['sla_hours']} h{when}"


SETTING_LABELS = {
    "name": "Name",
    "fit_threshold": "Fit threshold",
    "intent_threshold": "Intent threshold",
    "half_life_days": "Intent half-life (days)",
    "lookback_days": "Lookback (days)",
    "recycle_after_days": "Recycle after (days)",
}


def ruleset_diff(*, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[dict[str, str]]:
    """What changed from ``old`` to ``new``, one readable line per change (rules matched by label, buckets by key)."""
    if old is None:
        return [{"change": "added", "what": "Ruleset", "text": "The first ruleset: everything is new."}]
    changes: list[dict[str, str]] = []
    defaults = {"half_life_days": scoring.DEFAULT_HALF_LIFE_DAYS, "lookback_days": scoring.DEFAULT_LOOKBACK_DAYS}
    for key, label in SETTING_LABELS.items():
        before, after = old.get(key, defaults.get(key)), new.get(key, defaults.get(key))
        if before != after:
            changes.append({"change": "changed", "what": label, "text": f"{before} → {after}"})
    for section, kind, id_key, title in (
        ("fit_rules", "fit", "label", "Fit rule"),
        ("intent_rules", "intent", "label", "Intent rule"),
        ("buckets", "bucket", "key", "Bucket"),
    ):
        before_rules = {rule[id_key]: rule for rule in old.get(section, [])}
        after_rules = {rule[id_key]: rule for rule in new.get(section, [])}
        for name, rule in after_rules.items():
            if name not in before_rules:
                changes.append({"change": "added", "what": f"{title} “{name}”", "text": _rule_text(rule, kind=kind)})
            elif before_rules[name] != rule:
                changes.append(
                    {
                        "change": "changed",
                        "what": f"{title} “{name}”",
                        "text": f"{_rule_text(before_rules[name], kind=kind)} → {_rule_text(rule, kind=kind)}",
                    }
                )
        for name, rule in before_rules.items():
            if name not in after_rules:
                changes.append({"change": "removed", "what": f"{title} “{name}”", "text": _rule_text(rule, kind=kind)})
        if [r[id_key] for r in old.get(section, [])] != [r[id_key] for r in new.get(section, [])] and all(
            name in before_rules for name in after_rules
        ):
            changes.append({"change": "changed", "what": f"{title} order", "text": ", ".join(after_rules)})
    return changes


def ruleset_describe(*, document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each rule of a document as a sentence, for pages."""
    return {
        "fit_rules": [f"{r['label']}: {_rule_text(r, kind='fit')}" for r in document.get("fit_rules", [])],
        "intent_rules": [f"{r['label']}: {_rule_text(r, kind='intent')}" for r in document.get("intent_rules", [])],
        "buckets": [f"{r['key']} · {_rule_text(r, kind='bucket')}" for r in document.get("buckets", [])],
    }


# ---------------------------------------------------------------- explanation and preview


def lead_detail(*, lead_id: int) -> Lead:
    return Lead.objects.select_related("account", "owner").get(pk=lead_id)


def lead_episodes(*, lead_id: int) -> QuerySet[Qualification]:
    return Qualification.objects.filter(lead_id=lead_id).order_by("-qualified_at")


def lead_activities(*, lead_id: int, limit: int = 50) -> list[Activity]:
    return list(Activity.objects.filter(lead_id=lead_id).order_by("-occurred_at", "-pk")[:limit])


def lead_explanation(*, lead_id: int, at: datetime | None = None) -> dict[str, Any] | None:
    """Why the lead stands where it does under the active ruleset, now: None without an active ruleset."""
    ruleset = ruleset_active()
    if ruleset is None:
        return None
    rules = classifier.rules_of(ruleset)
    evaluations, _ = classifier.evaluate_leads(rules, [lead_id], at or timezone.now())
    if not evaluations:
        return None
    evaluation = evaluations[0]
    explanation = scoring.explain(rules, evaluation.fit, evaluation.intent, since=evaluation.since)
    if evaluation.qualifying is not None:
        explanation["would_qualify_at"] = evaluation.qualifying.at.isoformat()
    return explanation


@dataclass(frozen=True)
class PreviewChange:
    lead_id: int
    email: str
    before: str
    after: str
    before_at: datetime | None
    after_at: datetime | None
    stage: str
    furthest: str


@dataclass
class RulesetPreview:
    weeks: list[dict[str, Any]]
    changes: list[PreviewChange]
    load: list[dict[str, Any]]
    conversion: list[dict[str, Any]]
    start: datetime
    end: datetime
    leads_considered: int
    qls_before: int
    qls_after: int


PREVIEW_CHUNK = 1000
FURTHEST_ORDER = (LeadStage.OPPORTUNITY, LeadStage.QO, LeadStage.CUSTOMER)


def _week_label(moment: datetime) -> str:
    local = moment.astimezone(ZoneInfo(settings.REPORT_TIME_ZONE))
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def _week_start(moment: datetime) -> datetime:
    zone = ZoneInfo(settings.REPORT_TIME_ZONE)
    local = moment.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time.min, tzinfo=zone)


def ruleset_preview(*, ruleset: Ruleset, weeks: int, now: datetime | None = None) -> RulesetPreview:
    """What publishing ``ruleset`` would change over the last ``weeks`` ISO weeks (this one included).

    Both the active ruleset and ``ruleset`` replay every lead with activity in the window: the first
    time in the window each would make the lead a QL, and in which bucket. Nothing is written.
    """
    end = now or timezone.now()
    start = _week_start(end) - timedelta(weeks=weeks - 1)
    after_rules = classifier.rules_of(ruleset)
    active = ruleset_active()
    before_rules = classifier.rules_of(active) if active is not None and active.pk != ruleset.pk else None
    if active is not None and active.pk == ruleset.pk:
        before_rules = after_rules
    lead_ids = sorted(
        set(Activity.objects.filter(occurred_at__gte=start, occurred_at__lte=end).values_list("lead_id", flat=True))
    )
    labels = []
    cursor = start
    while cursor <= end:
        labels.append(_week_label(cursor))
        cursor += timedelta(weeks=1)
    counts: dict[str, dict[str, Any]] = {label: {"week": label, "before": 0, "after": 0} for label in labels}
    bucket_after: dict[str, int] = {}
    bucket_before: dict[str, int] = {}
    raw_changes: list[tuple[int, str, str, datetime | None, datetime | None]] = []
    for offset in range(0, len(lead_ids), PREVIEW_CHUNK):
        chunk = lead_ids[offset : offset + PREVIEW_CHUNK]
        outcomes: dict[str, dict[int, tuple[datetime, str]]] = {}
        for name, rules in (("before", before_rules), ("after", after_rules)):
            if rules is None:
                outcomes[name] = {}
                continue
            outcomes[name] = _window_outcomes(rules, chunk, start, end)
        for lead_id in chunk:
            before = outcomes["before"].get(lead_id)
            after = outcomes["after"].get(lead_id)
            for name, found, tally in (("before", before, bucket_before), ("after", after, bucket_after)):
                if found is not None:
                    counts[_week_label(found[0])][name] += 1
                    tally[found[1]] = tally.get(found[1], 0) + 1
            before_bucket = before[1] if before else ""
            after_bucket = after[1] if after else ""
            if before_bucket != after_bucket:
                raw_changes.append(
                    (lead_id, before_bucket, after_bucket, before[0] if before else None, after[0] if after else None)
                )
    changes = _preview_changes(raw_changes)
    for row in counts.values():
        row["change"] = row["after"] - row["before"]
    return RulesetPreview(
        weeks=list(counts.values()),
        changes=changes,
        load=[
            {
                "key": bucket.key,
                "label": bucket.label,
                "experience": bucket.experience,
                "sla_hours": bucket.sla_hours,
                "before_per_week": round(bucket_before.get(bucket.key, 0) / weeks, 1),
                "after_per_week": round(bucket_after.get(bucket.key, 0) / weeks, 1),
            }
            for bucket in after_rules.buckets
        ],
        conversion=_conversion_summary(changes),
        start=start,
        end=end,
        leads_considered=len(lead_ids),
        qls_before=sum(row["before"] for row in counts.values()),
        qls_after=sum(row["after"] for row in counts.values()),
    )


def _window_outcomes(
    rules: scoring.Rules, lead_ids: list[int], start: datetime, end: datetime
) -> dict[int, tuple[datetime, str]]:
    rows = list(Lead.objects.filter(pk__in=lead_ids).values(*classifier.LEAD_FIELDS))
    domains = {row["email"].rsplit("@", 1)[-1] for row in rows}
    free = frozenset(FreeMailDomain.objects.filter(domain__in=domains).values_list("domain", flat=True))
    activities = dict(classifier.activities_by_lead(lead_ids, end))
    found: dict[int, tuple[datetime, str]] = {}
    for row in rows:
        fit = scoring.score_fit(rules, classifier.lead_facts(row, free))
        qualifying = scoring.first_qualification(
            rules, fit, activities.get(row["pk"], []), until=end, tested_from=start
        )
        if qualifying is not None:
            found[row["pk"]] = (qualifying.at, qualifying.bucket.bucket.key)
    return found


def _preview_changes(
    raw: list[tuple[int, str, str, datetime | None, datetime | None]],
) -> list[PreviewChange]:
    ids = [row[0] for row in raw]
    leads = {lead.pk: lead for lead in Lead.objects.filter(pk__in=ids).only("pk", "email", "stage")}
    reached: dict[int, set[str]] = {}
    for lead_id, stage in StageTransition.objects.filter(
        lead_id__in=ids, object_type=ObjectType.LEAD, to_stage__in=FURTHEST_ORDER
    ).values_list("lead_id", "to_stage"):
        reached.setdefault(lead_id, set()).add(stage)
    changes = []
    for lead_id, before, after, before_at, after_at in raw:
        lead = leads[lead_id]
        furthest = next((s for s in reversed(FURTHEST_ORDER) if s in reached.get(lead_id, set())), "")
        changes.append(
            PreviewChange(
                lead_id=lead_id,
                email=lead.email,
                before=before,
                after=after,
                before_at=before_at,
                after_at=after_at,
                stage=lead.stage,
                furthest=furthest,
            )
        )
    return sorted(changes, key=lambda change: (change.after == "", change.before != "", change.email))


def _conversion_summary(changes: list[PreviewChange]) -> list[dict[str, Any]]:
    groups = (
        ("Would become QLs", [c for c in changes if not c.before and c.after]),
        ("Would no longer be QLs", [c for c in changes if c.before and not c.after]),
        ("Would move to another bucket", [c for c in changes if c.before and c.after]),
    )
    return [
        {
            "group": label,
            "leads": len(rows),
            "opportunity": sum(1 for c in rows if c.furthest),
            "qo": sum(1 for c in rows if c.furthest in (LeadStage.QO, LeadStage.CUSTOMER)),
            "won": sum(1 for c in rows if c.furthest == LeadStage.CUSTOMER),
        }
        for label, rows in groups
    ]
