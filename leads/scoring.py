"""Scoring a lead against a ruleset (FUNNEL.md, "Scores"): pure functions, no database.

``parse_ruleset`` turns the JSON document of API.md into ``Rules`` or raises ``RulesetInvalid``
with one message per bad field. ``score_fit``, ``score_intent``, ``first_qualification`` and
``choose_bucket`` compute the numbers; each result carries what an explanation needs.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FIELDS_NUMERIC = ("account.employee_count", "account.annual_revenue")
FIELDS_TEXT = (
    "account.industry",
    "account.country",
    "account.domain",
    "lead.title",
    "lead.country",
    "lead.email_domain_type",
)
FIT_FIELDS = (*FIELDS_NUMERIC, *FIELDS_TEXT)
TRAIT_PREFIXES = ("lead.traits.", "account.traits.")
PROPERTY_PREFIX = "properties."
OPS = ("eq", "neq", "in", "not_in", "gte", "lte", "between", "contains", "contains_any", "exists", "not_exists")
ACTIVITY_KINDS = ("form", "chat", "product", "meeting", "other")
SOURCES = ("inbound", "chat", "product", "other")
# FUNNEL.md, "Channels" (the same map as leads.choices.CHANNEL_OF_KIND).
CHANNEL_OF_KIND = {"form": "inbound", "chat": "chat", "product": "product", "meeting": "inbound", "other": "other"}
DEFAULT_HALF_LIFE_DAYS = 14.0
DEFAULT_LOOKBACK_DAYS = 90.0
SECONDS_PER_DAY = 86_400

Value = Any


class RulesetInvalid(Exception):
    """The ruleset document has errors; ``errors`` maps a path like ``fit_rules[2].op`` to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{path}: {' '.join(messages)}" for path, messages in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Value = None

    def describe(self) -> str:
        if self.op in ("exists", "not_exists"):
            return f"{self.field} {self.op.replace('_', ' ')}"
        shown = " and ".join(map(str, self.value)) if self.op == "between" else _show(self.value)
        return f"{self.field} {self.op.replace('_', ' ')} {shown}"


@dataclass(frozen=True)
class FitRule:
    label: str
    condition: Condition
    points: float


@dataclass(frozen=True)
class IntentRule:
    label: str
    kind: str
    points: float
    names: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    max_count: int | None = None

    @property
    def folded_names(self) -> frozenset[str]:
        return frozenset(name.strip().lower() for name in self.names)

    def matches(self, activity: "ActivityFact", folded_names: frozenset[str] | None = None) -> bool:
        if activity.kind != self.kind:
            return False
        names = self.folded_names if folded_names is None else folded_names
        if names and activity.name.strip().lower() not in names:
            return False
        return all(
            condition_holds(condition, activity.properties.get(condition.field.removeprefix(PROPERTY_PREFIX)))
            for condition in self.conditions
        )


@dataclass(frozen=True)
class Bucket:
    key: str
    label: str
    experience: str
    sla_hours: float
    min_fit: float | None = None
    min_intent: float | None = None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rules:
    name: str
    fit_threshold: float
    intent_threshold: float
    half_life_days: float | None
    lookback_days: float
    recycle_after_days: int | None
    fit_rules: tuple[FitRule, ...]
    intent_rules: tuple[IntentRule, ...]
    buckets: tuple[Bucket, ...]
    version: int | None = None


@dataclass(frozen=True)
class ActivityFact:
    """One activity as scoring sees it; ``key`` orders ties (the idempotency key)."""

    id: int
    kind: str
    name: str
    occurred_at: datetime
    key: tuple[str, str] = ("", "")
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> tuple[datetime, tuple[str, str], int]:
        return (self.occurred_at, self.key, self.id)


@dataclass(frozen=True)
class FitHit:
    rule: FitRule
    hit: bool


@dataclass(frozen=True)
class FitResult:
    score: float
    hits: tuple[FitHit, ...]


@dataclass(frozen=True)
class Contribution:
    activity: ActivityFact
    rule_labels: tuple[str, ...]
    points: float
    age_days: float
    value: float


@dataclass(frozen=True)
class IntentResult:
    score: float
    at: datetime
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True)
class BucketCheck:
    bucket: Bucket
    chosen: bool
    failed: tuple[str, ...]


@dataclass(frozen=True)
class BucketChoice:
    bucket: Bucket
    checks: tuple[BucketCheck, ...]


@dataclass(frozen=True)
class Qualifying:
    activity: ActivityFact
    intent: IntentResult
    bucket: BucketChoice

    @property
    def source(self) -> str:
        return CHANNEL_OF_KIND.get(self.activity.kind, "other")

    @property
    def at(self) -> datetime:
        return self.activity.occurred_at


def _show(value: Value) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


# ---------------------------------------------------------------- validation


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _number(document: Mapping[str, Any], key: str, errors: _Errors, *, path: str = "", default: Any = ...) -> Any:
    where = f"{path}{key}"
    if key not in document:
        if default is ...:
            errors.add(where, "This field is required.")
        return None if default is ... else default
    value = document[key]
    if value is None and default is None:
        return None
    if not _is_number(value):
        errors.add(where, f"Must be a number, not {_show(value)!r}.")
        return None
    return float(value)


def _text(document: Mapping[str, Any], key: str, errors: _Errors, *, path: str, required: bool = True) -> str:
    value = document.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        errors.add(f"{path}{key}", "Give a non-empty text." if required else "Must be text.")
        return ""
    return value.strip()


def _parse_condition(raw: Any, path: str, errors: _Errors, *, fit: bool) -> Condition | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "Each condition is an object with field, op and value.")
        return None
    name = raw.get("field")
    op = raw.get("op")
    ok = True
    if not isinstance(name, str) or not _known_field(name, fit=fit):
        allowed = ", ".join(FIT_FIELDS) + ", lead.traits.<key>, account.traits.<key>" if fit else "properties.<key>"
        errors.add(f"{path}.field", f"Unknown field {name!r}. Use one of: {allowed}.")
        ok = False
    if op not in OPS:
        errors.add(f"{path}.op", f"Unknown operator {op!r}. Use one of: {', '.join(OPS)}.")
        return None
    value = raw.get("value")
    problem = _value_problem(op, value, numeric=isinstance(name, str) and name in FIELDS_NUMERIC)
    if problem:
        errors.add(f"{path}.value", problem)
        ok = False
    if not ok or not isinstance(name, str):
        return None
    if isinstance(value, list):
        value = tuple(value)
    return Condition(field=name, op=op, value=value)


def _known_field(name: str, *, fit: bool) -> bool:
    if fit:
        return name in FIT_FIELDS or any(name.startswith(p) and len(name) > len(p) for p in TRAIT_PREFIXES)
    return name.startswith(PROPERTY_PREFIX) and len(name) > len(PROPERTY_PREFIX)


def _value_problem(op: str, value: Any, *, numeric: bool) -> str | None:
    scalar = (str, int, float, bool)
    if op in ("exists", "not_exists"):
        return None if value is None else f"'{op}' takes no value; remove it."
    if op in ("gte", "lte"):
        return None if _is_number(value) else f"'{op}' compares with a number, not {_show(value)!r}."
    if op == "between":
        if isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value):
            return None if value[0] <= value[1] else "The low end of 'between' must not exceed the high end."
        return "'between' takes a list of two numbers, [low, high]."
    if op in ("in", "not_in", "contains_any"):
        if not isinstance(value, list) or not value:
            return f"'{op}' takes a non-empty list of values."
        if op == "contains_any" and not all(isinstance(v, str) for v in value):
            return "'contains_any' takes a list of texts."
        if numeric and not all(_is_number(v) for v in value):
            return "This field is a number: list numbers."
        return None if all(isinstance(v, scalar) for v in value) else "List plain values (text or numbers)."
    if op == "contains":
        return None if isinstance(value, str) and value else "'contains' takes a non-empty text."
    if numeric and not _is_number(value):
        return f"This field is a number: compare it with a number, not {_show(value)!r}."
    return None if isinstance(value, scalar) else f"'{op}' takes one plain value (text or number)."


def parse_ruleset(document: Any, *, version: int | None = None) -> Rules:
    """Validate a ruleset document (API.md, "Rules"); every problem is reported at once."""
    errors = _Errors()
    if not isinstance(document, Mapping):
        raise RulesetInvalid({"document": ["A ruleset is a JSON object."]})
    known = {
        "name",
        "fit_threshold",
        "intent_threshold",
        "half_life_days",
        "lookback_days",
        "recycle_after_days",
        "fit_rules",
        "intent_rules",
        "buckets",
    }
    for key in document:
        if key not in known:
            errors.add(str(key), "Unknown setting; remove it.")
    name = _text(document, "name", errors, path="")
    fit_threshold = _number(document, "fit_threshold", errors)
    intent_threshold = _number(document, "intent_threshold", errors)
    half_life: float | None = None
    if document.get("half_life_days", DEFAULT_HALF_LIFE_DAYS) is not None:
        half_life = _number(document, "half_life_days", errors, default=DEFAULT_HALF_LIFE_DAYS)
    if half_life is not None and half_life <= 0:
        errors.add("half_life_days", "The half-life must be more than 0 days (or null for no decay).")
    lookback = _number(document, "lookback_days", errors, default=DEFAULT_LOOKBACK_DAYS)
    if lookback is not None and lookback <= 0:
        errors.add("lookback_days", "The lookback must be more than 0 days.")
    recycle = document.get("recycle_after_days")
    if recycle is not None and (not isinstance(recycle, int) or isinstance(recycle, bool) or recycle <= 0):
        errors.add("recycle_after_days", "Give a whole number of days above 0, or null to never recycle.")
        recycle = None
    fit_rules = _parse_fit_rules(document.get("fit_rules", []), errors)
    intent_rules = _parse_intent_rules(document.get("intent_rules"), errors)
    buckets = _parse_buckets(document.get("buckets"), errors)
    if errors.errors:
        raise RulesetInvalid(errors.errors)
    assert fit_threshold is not None
    assert intent_threshold is not None
    assert lookback is not None
    return Rules(
        name=name,
        fit_threshold=fit_threshold,
        intent_threshold=intent_threshold,
        half_life_days=half_life,
        lookback_days=lookback,
        recycle_after_days=recycle,
        fit_rules=tuple(fit_rules),
        intent_rules=tuple(intent_rules),
        buckets=tuple(buckets),
        version=version,
    )


def _parse_fit_rules(raw: Any, errors: _Errors) -> list[FitRule]:
    if not isinstance(raw, list):
        errors.add("fit_rules", "Fit rules are a list.")
        return []
    rules = []
    for index, item in enumerate(raw):
        path = f"fit_rules[{index}]"
        if not isinstance(item, Mapping):
            errors.add(path, "Each fit rule is an object with label, field, op, value and points.")
            continue
        for key in item:
            if key not in {"label", "field", "op", "value", "points"}:
                errors.add(f"{path}.{key}", "Unknown setting of a fit rule; remove it.")
        label = _text(item, "label", errors, path=f"{path}.")
        points = _number(item, "points", errors, path=f"{path}.")
        condition = _parse_condition(item, path, errors, fit=True)
        if condition is not None and points is not None:
            rules.append(FitRule(label=label, condition=condition, points=points))
    return rules


def _parse_intent_rules(raw: Any, errors: _Errors) -> list[IntentRule]:
    if not isinstance(raw, list) or not raw:
        errors.add("intent_rules", "Give at least one intent rule.")
        return []
    rules = []
    for index, item in enumerate(raw):
        path = f"intent_rules[{index}]"
        if not isinstance(item, Mapping):
            errors.add(path, "Each intent rule is an object with label, kind, points and optional names.")
            continue
        for key in item:
            if key not in {"label", "kind", "names", "conditions", "points", "max_count"}:
                errors.add(f"{path}.{key}", "Unknown setting of an intent rule; remove it.")
        label = _text(item, "label", errors, path=f"{path}.")
        kind = item.get("kind")
        if kind not in ACTIVITY_KINDS:
            errors.add(f"{path}.kind", f"Unknown activity kind {kind!r}. Use one of: {', '.join(ACTIVITY_KINDS)}.")
        points = _number(item, "points", errors, path=f"{path}.")
        if points is not None and points <= 0:
            errors.add(f"{path}.points", "Intent points must be above 0: intent only adds up.")
        names = item.get("names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            errors.add(f"{path}.names", 'Names are a list of activity names, such as ["Demo Request"].')
            names = []
        max_count = item.get("max_count")
        if max_count is not None and (not isinstance(max_count, int) or isinstance(max_count, bool) or max_count < 1):
            errors.add(f"{path}.max_count", "Give a whole number of at least 1, or leave it out for no limit.")
        raw_conditions = item.get("conditions", [])
        conditions: list[Condition] = []
        if not isinstance(raw_conditions, list):
            errors.add(f"{path}.conditions", "Conditions are a list.")
        else:
            for c_index, raw_condition in enumerate(raw_conditions):
                condition = _parse_condition(raw_condition, f"{path}.conditions[{c_index}]", errors, fit=False)
                if condition is not None:
                    conditions.append(condition)
        if isinstance(kind, str) and points is not None:
            rules.append(
                IntentRule(
                    label=label,
                    kind=kind,
                    points=points,
                    names=tuple(names),
                    conditions=tuple(conditions),
                    max_count=max_count if isinstance(max_count, int) else None,
                )
            )
    return rules


def _parse_buckets(raw: Any, errors: _Errors) -> list[Bucket]:
    if not isinstance(raw, list) or not raw:
        errors.add("buckets", "Give at least one bucket; the last one takes every QL the others do not.")
        return []
    buckets = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        path = f"buckets[{index}]"
        if not isinstance(item, Mapping):
            errors.add(path, "Each bucket is an object with key, label, experience and sla_hours.")
            continue
        for key in item:
            if key not in {"key", "label", "experience", "sla_hours", "min_fit", "min_intent", "sources"}:
                errors.add(f"{path}.{key}", "Unknown setting of a bucket; remove it.")
        key = _text(item, "key", errors, path=f"{path}.")
        if key in seen:
            errors.add(f"{path}.key", f"The key {key!r} is used by an earlier bucket.")
        elif key == "unqualified":
            errors.add(f"{path}.key", "'unqualified' is reserved for opportunities booked without a QL.")
        seen.add(key)
        label = _text(item, "label", errors, path=f"{path}.")
        experience = _text(item, "experience", errors, path=f"{path}.", required=False)
        sla = _number(item, "sla_hours", errors, path=f"{path}.")
        if sla is not None and sla <= 0:
            errors.add(f"{path}.sla_hours", "The SLA must be more than 0 hours.")
        min_fit = _number(item, "min_fit", errors, path=f"{path}.", default=None)
        min_intent = _number(item, "min_intent", errors, path=f"{path}.", default=None)
        sources = item.get("sources", [])
        if not isinstance(sources, list) or not all(source in SOURCES for source in sources):
            errors.add(f"{path}.sources", f"Sources are a list of: {', '.join(SOURCES)}.")
            sources = []
        is_last = index == len(raw) - 1
        if is_last and (min_fit is not None or min_intent is not None or sources):
            errors.add(path, "The last bucket takes every remaining QL: remove its min_fit, min_intent and sources.")
        buckets.append(
            Bucket(
                key=key,
                label=label,
                experience=experience,
                sla_hours=sla or 0.0,
                min_fit=min_fit,
                min_intent=min_intent,
                sources=tuple(sources),
            )
        )
    return buckets


# ---------------------------------------------------------------- conditions and fit


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _fold(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _equal(actual: Any, expected: Any) -> bool:
    if _is_number(actual) and _is_number(expected):
        return float(actual) == float(expected)
    if isinstance(actual, str) and isinstance(expected, str):
        return _fold(actual) == _fold(expected)
    return bool(actual == expected) and type(actual) is type(expected)


def condition_holds(condition: Condition, actual: Any) -> bool:
    """FUNNEL.md: a missing field makes every op false except ``not_exists``."""
    op, expected = condition.op, condition.value
    if _missing(actual):
        return op == "not_exists"
    if op == "exists":
        return True
    if op == "not_exists":
        return False
    if op == "eq":
        return _equal(actual, expected)
    if op == "neq":
        return not _equal(actual, expected)
    if op == "in":
        return any(_equal(actual, item) for item in expected)
    if op == "not_in":
        return not any(_equal(actual, item) for item in expected)
    if op in ("gte", "lte", "between"):
        if not _is_number(actual):
            return False
        number = float(actual)
        if op == "gte":
            return number >= expected
        if op == "lte":
            return number <= expected
        return bool(expected[0] <= number <= expected[1])
    if not isinstance(actual, str):
        return False
    text = actual.lower()
    if op == "contains":
        return str(expected).lower() in text
    if op == "contains_any":
        return any(str(item).lower() in text for item in expected)
    return False


def field_value(facts: Mapping[str, Any], name: str) -> Any:
    """The value of a fit field in ``facts`` (flat field names; traits as dicts under ``lead.traits``)."""
    for prefix in TRAIT_PREFIXES:
        if name.startswith(prefix):
            traits = facts.get(prefix.rstrip("."))
            return traits.get(name.removeprefix(prefix)) if isinstance(traits, Mapping) else None
    return facts.get(name)


def score_fit(rules: Rules, facts: Mapping[str, Any]) -> FitResult:
    hits = tuple(
        FitHit(rule=rule, hit=condition_holds(rule.condition, field_value(facts, rule.condition.field)))
        for rule in rules.fit_rules
    )
    return FitResult(score=sum(hit.rule.points for hit in hits if hit.hit), hits=hits)


# ---------------------------------------------------------------- intent


def _days(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / SECONDS_PER_DAY


def _decay(rules: Rules, age_days: float) -> float:
    if rules.half_life_days is None:
        return 1.0
    return float(0.5 ** (age_days / rules.half_life_days))


@dataclass(frozen=True)
class _Matched:
    activity: ActivityFact
    rules: tuple[int, ...]


def _match(rules: Rules, activities: Iterable[ActivityFact]) -> list[_Matched]:
    """Activities in time order (ties by idempotency key), each with the intent rules it matches."""
    ordered = sorted(activities, key=lambda activity: activity.order)
    names = [rule.folded_names for rule in rules.intent_rules]
    return [
        _Matched(activity, tuple(i for i, rule in enumerate(rules.intent_rules) if rule.matches(activity, names[i])))
        for activity in ordered
    ]


def _intent_at(rules: Rules, matched: Sequence[_Matched], at: datetime, since: datetime | None) -> IntentResult:
    counted: dict[int, list[int]] = {}
    for rule_index, rule in enumerate(rules.intent_rules):
        hits = [
            position
            for position, item in enumerate(matched)
            if rule_index in item.rules
            and item.activity.occurred_at <= at
            and (since is None or item.activity.occurred_at > since)
            and _days(at, item.activity.occurred_at) <= rules.lookback_days
        ]
        if rule.max_count is not None:
            hits = hits[-rule.max_count :]
        for position in hits:
            counted.setdefault(position, []).append(rule_index)
    contributions = []
    for position in sorted(counted):
        activity = matched[position].activity
        rule_indexes = counted[position]
        points = sum(rules.intent_rules[i].points for i in rule_indexes)
        age = _days(at, activity.occurred_at)
        contributions.append(
            Contribution(
                activity=activity,
                rule_labels=tuple(rules.intent_rules[i].label for i in rule_indexes),
                points=points,
                age_days=age,
                value=points * _decay(rules, age),
            )
        )
    score = 0.0
    for contribution in contributions:
        score += contribution.value
    return IntentResult(score=score, at=at, contributions=tuple(contributions))


def score_intent(
    rules: Rules, activities: Iterable[ActivityFact], at: datetime, since: datetime | None = None
) -> IntentResult:
    """I(lead, at): only activities after ``since`` (the end of the previous episode) count."""
    return _intent_at(rules, _match(rules, activities), at, since)


# ---------------------------------------------------------------- qualification and buckets


def choose_bucket(rules: Rules, fit: float, intent: float, source: str) -> BucketChoice:
    """The first bucket whose conditions hold; the last bucket has none."""
    checks = []
    chosen: Bucket | None = None
    for bucket in rules.buckets:
        failed = []
        if bucket.min_fit is not None and fit < bucket.min_fit:
            failed.append(f"fit {fit:g} is below {bucket.min_fit:g}")
        if bucket.min_intent is not None and intent < bucket.min_intent:
            failed.append(f"intent {intent:.1f} is below {bucket.min_intent:g}")
        if bucket.sources and source not in bucket.sources:
            failed.append(f"source {source} is not one of {', '.join(bucket.sources)}")
        is_chosen = chosen is None and not failed
        if is_chosen:
            chosen = bucket
        checks.append(BucketCheck(bucket=bucket, chosen=is_chosen, failed=tuple(failed)))
        if is_chosen:
            break
    if chosen is None:
        chosen = rules.buckets[-1]
    return BucketChoice(bucket=chosen, checks=tuple(checks))


def evaluate_lead(
    rules: Rules,
    fit: FitResult,
    activities: Iterable[ActivityFact],
    *,
    at: datetime,
    since: datetime | None = None,
    may_qualify: bool = True,
) -> tuple[IntentResult, Qualifying | None]:
    """Intent at ``at`` and, when the lead may qualify, the first qualification after ``since``."""
    matched = _match(rules, activities)
    qualifying = _replay(rules, fit, matched, since=since, until=at, tested_from=None) if may_qualify else None
    return _intent_at(rules, matched, at, since), qualifying


def first_qualification(
    rules: Rules,
    fit: FitResult,
    activities: Iterable[ActivityFact],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    tested_from: datetime | None = None,
) -> Qualifying | None:
    """Replay the lead's activities in time order after ``since``; the first time it qualifies, or None.

    ``until`` stops the replay; ``tested_from`` tests only activity times from then on (a preview
    window), while earlier activities still count towards intent.
    """
    return _replay(rules, fit, _match(rules, activities), since=since, until=until, tested_from=tested_from)


def _replay(
    rules: Rules,
    fit: FitResult,
    matched: Sequence[_Matched],
    *,
    since: datetime | None,
    until: datetime | None,
    tested_from: datetime | None,
) -> Qualifying | None:
    if fit.score < rules.fit_threshold:
        return None
    for item in matched:
        activity = item.activity
        if since is not None and activity.occurred_at <= since:
            continue
        if tested_from is not None and activity.occurred_at < tested_from:
            continue
        if until is not None and activity.occurred_at > until:
            break
        intent = _intent_at(rules, matched, activity.occurred_at, since)
        if intent.score >= rules.intent_threshold:
            source = CHANNEL_OF_KIND.get(activity.kind, "other")
            return Qualifying(
                activity=activity, intent=intent, bucket=choose_bucket(rules, fit.score, intent.score, source)
            )
    return None


# ---------------------------------------------------------------- explanation


def explain(
    rules: Rules,
    fit: FitResult,
    intent: IntentResult,
    *,
    qualifying: Qualifying | None = None,
    since: datetime | None = None,
) -> dict[str, Any]:
    """A JSON-ready account of a decision: every fit rule hit or missed, every activity that counted."""
    bucket = qualifying.bucket if qualifying else None
    return {
        "ruleset_version": rules.version,
        "ruleset_name": rules.name,
        "evaluated_at": intent.at.isoformat(),
        "since": since.isoformat() if since else None,
        "qualified": qualifying is not None,
        "qualified_at": qualifying.at.isoformat() if qualifying else None,
        "fit": {
            "score": fit.score,
            "threshold": rules.fit_threshold,
            "passed": fit.score >= rules.fit_threshold,
            "rules": [
                {
                    "label": hit.rule.label,
                    "condition": hit.rule.condition.describe(),
                    "points": hit.rule.points,
                    "hit": hit.hit,
                }
                for hit in fit.hits
            ],
        },
        "intent": {
            "score": round(intent.score, 4),
            "threshold": rules.intent_threshold,
            "passed": intent.score >= rules.intent_threshold,
            "half_life_days": rules.half_life_days,
            "lookback_days": rules.lookback_days,
            "activities": [
                {
                    "id": c.activity.id,
                    "kind": c.activity.kind,
                    "name": c.activity.name,
                    "occurred_at": c.activity.occurred_at.isoformat(),
                    "rules": list(c.rule_labels),
                    "points": c.points,
                    "age_days": round(c.age_days, 2),
                    "contribution": round(c.value, 4),
                }
                for c in intent.contributions
            ],
        },
        "bucket": None
        if bucket is None
        else {
            "key": bucket.bucket.key,
            "label": bucket.bucket.label,
            "experience": bucket.bucket.experience,
            "sla_hours": bucket.bucket.sla_hours,
            "source": qualifying.source if qualifying else None,
            "checks": [
                {"key": check.bucket.key, "chosen": check.chosen, "failed": list(check.failed)}
                for check in bucket.checks
            ],
        },
    }
