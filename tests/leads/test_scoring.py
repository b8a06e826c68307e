"""leads.scoring against hand-computed cases of FUNNEL.md, "Scores"."""

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leads.scoring import (
    ActivityFact,
    Condition,
    RulesetInvalid,
    choose_bucket,
    condition_holds,
    explain,
    first_qualification,
    parse_ruleset,
    score_fit,
    score_intent,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

DOCUMENT: dict[str, Any] = {
    "name": "ICP v3",
    "fit_threshold": 40,
    "intent_threshold": 20,
    "half_life_days": 14,
    "lookback_days": 90,
    "recycle_after_days": None,
    "fit_rules": [
        {"label": "Mid-market", "field": "account.employee_count", "op": "between", "value": [50, 5000], "points": 30},
        {"label": "Target industry", "field": "account.industry", "op": "in", "value": ["software", "fintech"],
         "points": 20},
        {"label": "Free e-mail", "field": "lead.email_domain_type", "op": "eq", "value": "free", "points": -40},
    ],
    "intent_rules": [
        {"label": "Asked for sales", "kind": "form", "names": ["Demo Request", "Contact Sales"], "points": 40},
        {"label": "Chatted with sales", "kind": "chat", "points": 25},
        {"label": "Hit a plan limit", "kind": "product", "names": ["Workspace Limit Reached"], "points": 15,
         "max_count": 3},
        {"label": "Pricing on free plan", "kind": "product", "names": ["Pricing Page Viewed"],
         "conditions": [{"field": "properties.plan", "op": "eq", "value": "free"}], "points": 5},
    ],
    "buckets": [
        {"key": "P1", "label": "High touch", "experience": "AE calls within 1 hour", "sla_hours": 1, "min_fit": 60,
         "min_intent": 40},
        {"key": "P2", "label": "Sales assist", "experience": "SDR reaches out within a day", "sla_hours": 24,
         "min_fit": 50},
        {"key": "P3", "label": "Low touch", "experience": "Automated sequence", "sla_hours": 72},
    ],
}  # fmt: skip

FIT_FACTS = {
    "account.employee_count": 200,
    "account.industry": "Software",
    "lead.email_domain_type": "business",
}


def rules(**changes: Any):
    document = copy.deepcopy(DOCUMENT)
    document.update(changes)
    return parse_ruleset(document, version=3)


_ids = iter(range(1, 10_000))


def act(kind: str, name: str, days: float, key: str = "", **properties: Any) -> ActivityFact:
    n = next(_ids)
    return ActivityFact(
        id=n,
        kind=kind,
        name=name,
        occurred_at=T0 + timedelta(days=days),
        key=("test", key or f"k{n:05d}"),
        properties=properties,
    )


# ---------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("eq", "software", "SoftWare", True),
        ("eq", "software", "fintech", False),
        ("eq", 200, 200, True),
        ("eq", 200, 201, False),
        ("neq", "software", "fintech", True),
        ("neq", "software", "SOFTWARE", False),
        ("in", ["software", "fintech"], "FinTech", True),
        ("in", ["software", "fintech"], "retail", False),
        ("not_in", ["software", "fintech"], "retail", True),
        ("not_in", ["software", "fintech"], "Software", False),
        ("gte", 50, 50, True),
        ("gte", 50, 49, False),
        ("lte", 50, 50, True),
        ("lte", 50, 51, False),
        ("gte", 50, "many", False),
        ("between", [50, 5000], 50, True),
        ("between", [50, 5000], 5000, True),
        ("between", [50, 5000], 5001, False),
        ("between", [50, 5000], 49.9, False),
        ("contains", "ops", "Head of RevOps", True),
        ("contains", "ops", "Head of Sales", False),
        ("contains_any", ["vp", "head"], "HEAD of growth", True),
        ("contains_any", ["vp", "head"], "Engineer", False),
        ("exists", None, "x", True),
        ("not_exists", None, "x", False),
    ],
)
def test_each_operator_on_a_present_value(op, value, actual, expected):
    assert condition_holds(Condition("lead.title", op, value), actual) is expected


@pytest.mark.parametrize("op", ["eq", "neq", "in", "not_in", "gte", "lte", "between", "contains", "contains_any"])
@pytest.mark.parametrize("missing", [None, "", "  "])
def test_a_missing_field_is_false_for_every_op_but_not_exists(op, missing):
    value = {"between": [1, 2], "in": ["a"], "not_in": ["a"], "contains_any": ["a"], "gte": 1, "lte": 1}.get(op, "a")
    assert condition_holds(Condition("lead.title", op, value), missing) is False


def test_exists_and_not_exists_on_a_missing_field():
    assert condition_holds(Condition("lead.title", "not_exists"), None) is True
    assert condition_holds(Condition("lead.title", "exists"), None) is False


# ---------------------------------------------------------------- fit


def test_fit_sums_the_points_of_the_rules_that_hold_and_records_misses():
    fit = score_fit(rules(), FIT_FACTS)

    assert fit.score == 50
    assert [(hit.rule.label, hit.hit) for hit in fit.hits] == [
        ("Mid-market", True),
        ("Target industry", True),
        ("Free e-mail", False),
    ]


def test_negative_points_lower_fit_and_traits_are_fields():
    ruleset = rules(
        fit_rules=[
            *DOCUMENT["fit_rules"],
            {"label": "Uses Salesforce", "field": "account.traits.crm", "op": "eq", "value": "salesforce", "points": 7},
            {"label": "No title", "field": "lead.title", "op": "not_exists", "points": -3},
        ]
    )
    facts = {**FIT_FACTS, "lead.email_domain_type": "free", "account.traits": {"crm": "Salesforce"}}

    assert score_fit(ruleset, facts).score == 30 + 20 - 40 + 7 - 3


def test_a_lead_without_an_account_misses_every_account_rule():
    assert score_fit(rules(), {"lead.email_domain_type": "business"}).score == 0


# ---------------------------------------------------------------- intent


def test_intent_decays_by_half_life():
    demo = act("form", "Demo Request", 0)

    assert score_intent(rules(), [demo], demo.occurred_at).score == pytest.approx(40)
    assert score_intent(rules(), [demo], T0 + timedelta(days=14)).score == pytest.approx(20)
    assert score_intent(rules(), [demo], T0 + timedelta(days=7)).score == pytest.approx(40 * 0.5**0.5)


def test_no_half_life_means_no_decay():
    demo = act("form", "Demo Request", 0)

    assert score_intent(rules(half_life_days=None), [demo], T0 + timedelta(days=60)).score == pytest.approx(40)


def test_lookback_is_inclusive_and_future_activities_do_not_count():
    demo = act("form", "contact sales", 0)
    later = act("chat", "Hello", 91)
    ruleset = rules(half_life_days=None, lookback_days=90)

    assert score_intent(ruleset, [demo, later], T0 + timedelta(days=90)).score == pytest.approx(40)
    assert score_intent(ruleset, [demo, later], T0 + timedelta(days=90, seconds=1)).score == pytest.approx(0)


def test_names_match_case_insensitively_and_property_conditions_apply():
    ruleset = rules(half_life_days=None)
    free = act("product", "pricing page viewed", 0, plan="FREE")
    paid = act("product", "Pricing Page Viewed", 0, plan="team")
    no_plan = act("product", "Pricing Page Viewed", 0)

    assert score_intent(ruleset, [free, paid, no_plan], T0).score == pytest.approx(5)


def test_max_count_keeps_only_the_most_recent_matches():
    ruleset = rules()
    limits = [act("product", "Workspace Limit Reached", day) for day in (0, 7, 14, 21)]
    at = T0 + timedelta(days=21)

    result = score_intent(ruleset, limits, at)

    expected = 15 * (0.5 ** (14 / 14) + 0.5 ** (7 / 14) + 1)
    assert result.score == pytest.approx(expected)
    assert [c.activity.id for c in result.contributions] == [a.id for a in limits[1:]]


def test_max_count_is_as_of_the_moment_tested():
    ruleset = rules()
    limits = [act("product", "Workspace Limit Reached", day) for day in (0, 1, 2, 3)]

    assert score_intent(ruleset, limits, T0 + timedelta(days=2)).score == pytest.approx(
        15 * (0.5 ** (2 / 14) + 0.5 ** (1 / 14) + 1)
    )


def test_an_activity_matching_two_rules_counts_for_both():
    ruleset = rules(
        half_life_days=None,
        intent_rules=[
            {"label": "Any form", "kind": "form", "points": 10},
            {"label": "Demo", "kind": "form", "names": ["Demo Request"], "points": 40},
        ],
    )
    result = score_intent(ruleset, [act("form", "Demo Request", 0)], T0)

    assert result.score == 50
    assert result.contributions[0].rule_labels == ("Any form", "Demo")


def test_since_excludes_activities_up_to_the_end_of_the_previous_episode():
    demo = act("form", "Demo Request", 0)
    chat = act("chat", "Hi", 2)
    ruleset = rules(half_life_days=None)

    assert score_intent(ruleset, [demo, chat], T0 + timedelta(days=3), since=T0).score == 25


# ---------------------------------------------------------------- qualification time


def test_qualified_at_is_the_first_activity_time_at_which_both_pass():
    ruleset = rules(intent_threshold=30)
    pricing = act("product", "Pricing Page Viewed", 0, plan="free")
    chat = act("chat", "Hello", 1)
    demo = act("form", "Demo Request", 3)
    fit = score_fit(ruleset, FIT_FACTS)

    found = first_qualification(ruleset, fit, [demo, chat, pricing])

    assert found is not None
    assert found.activity == demo
    assert found.source == "inbound"
    assert found.intent.score == pytest.approx(40 + 25 * 0.5 ** (2 / 14) + 5 * 0.5 ** (3 / 14))


def test_intent_alone_is_not_enough_without_fit():
    ruleset = rules()
    fit = score_fit(ruleset, {**FIT_FACTS, "account.industry": "retail"})

    assert fit.score == 30
    assert first_qualification(ruleset, fit, [act("form", "Demo Request", 0)]) is None


def test_decayed_intent_that_falls_short_never_qualifies():
    ruleset = rules(intent_threshold=35)
    fit = score_fit(ruleset, FIT_FACTS)
    chats = [act("chat", "Hi", 0), act("chat", "Hi", 30)]

    assert score_intent(ruleset, chats, T0 + timedelta(days=30)).score == pytest.approx(25 + 25 * 0.5 ** (30 / 14))
    assert first_qualification(ruleset, fit, chats) is None


def test_ties_qualify_at_the_activity_first_by_idempotency_key():
    ruleset = rules(intent_threshold=60)
    fit = score_fit(ruleset, FIT_FACTS)
    chat = act("chat", "Hi", 1, key="b")
    demo = act("form", "Demo Request", 1, key="a")

    found = first_qualification(ruleset, fit, [chat, demo])

    assert found is not None
    assert found.activity == demo
    assert found.source == "inbound"
    assert found.intent.score == pytest.approx(65)


def test_requalification_counts_only_activities_after_the_previous_end():
    ruleset = rules(intent_threshold=40)
    fit = score_fit(ruleset, FIT_FACTS)
    old_demo = act("form", "Demo Request", 0)
    chat = act("chat", "Hi", 20)
    new_demo = act("form", "Contact Sales", 30)
    ended = T0 + timedelta(days=10)

    found = first_qualification(ruleset, fit, [old_demo, chat, new_demo], since=ended)

    assert found is not None
    assert found.activity == new_demo
    assert found.intent.score == pytest.approx(40 + 25 * 0.5 ** (10 / 14))


def test_an_activity_at_the_very_end_of_the_previous_episode_does_not_count():
    ruleset = rules()
    fit = score_fit(ruleset, FIT_FACTS)
    demo = act("form", "Demo Request", 5)

    assert first_qualification(ruleset, fit, [demo], since=demo.occurred_at) is None


def test_until_stops_the_replay():
    ruleset = rules()
    fit = score_fit(ruleset, FIT_FACTS)
    demo = act("form", "Demo Request", 5)

    assert first_qualification(ruleset, fit, [demo], until=T0) is None


# ---------------------------------------------------------------- buckets


@pytest.mark.parametrize(
    ("fit", "intent", "source", "bucket"),
    [
        (60, 40, "inbound", "P1"),
        (60, 39.9, "inbound", "P2"),
        (59, 100, "inbound", "P2"),
        (50, 0, "chat", "P2"),
        (49, 100, "chat", "P3"),
    ],
)
def test_the_first_bucket_whose_conditions_hold(fit, intent, source, bucket):
    assert choose_bucket(rules(), fit, intent, source).bucket.key == bucket


def test_bucket_sources_restrict_a_bucket():
    buckets = copy.deepcopy(DOCUMENT["buckets"])
    buckets[0]["sources"] = ["product"]
    ruleset = rules(buckets=buckets)

    choice = choose_bucket(ruleset, 90, 90, "inbound")

    assert choice.bucket.key == "P2"
    assert choice.checks[0].failed == ("source inbound is not one of product",)
    assert choose_bucket(ruleset, 90, 90, "product").bucket.key == "P1"


def test_the_bucket_is_chosen_at_qualified_at():
    ruleset = rules(intent_threshold=20)
    fit = score_fit(ruleset, {**FIT_FACTS, "account.traits": {}})
    ruleset_fit70 = rules(
        intent_threshold=20,
        fit_rules=[*DOCUMENT["fit_rules"], {"label": "x", "field": "lead.title", "op": "not_exists", "points": 20}],
    )
    fit = score_fit(ruleset_fit70, FIT_FACTS)
    chat = act("chat", "Hi", 0)
    demo = act("form", "Demo Request", 1)

    found = first_qualification(ruleset_fit70, fit, [chat, demo])

    assert found is not None
    assert found.activity == chat
    assert found.bucket.bucket.key == "P2"
    assert ruleset.version == 3


# ---------------------------------------------------------------- explanation


def test_the_explanation_lists_rules_activities_thresholds_and_the_bucket():
    ruleset = rules()
    fit = score_fit(ruleset, FIT_FACTS)
    demo = act("form", "Demo Request", 0)
    found = first_qualification(ruleset, fit, [demo])
    assert found is not None

    explanation = explain(ruleset, fit, found.intent, qualifying=found)

    assert explanation["ruleset_version"] == 3
    assert explanation["qualified"] is True
    assert explanation["fit"]["score"] == 50
    assert explanation["fit"]["threshold"] == 40
    assert explanation["fit"]["rules"][2] == {
        "label": "Free e-mail",
        "condition": "lead.email_domain_type eq free",
        "points": -40,
        "hit": False,
    }
    assert explanation["intent"]["activities"][0]["contribution"] == 40
    assert explanation["bucket"]["key"] == "P2"
    assert explanation["bucket"]["checks"][0]["failed"] == ["fit 50 is below 60"]


# ---------------------------------------------------------------- validation


def invalid(**changes: Any) -> dict[str, list[str]]:
    with pytest.raises(RulesetInvalid) as caught:
        rules(**changes)
    return caught.value.errors


def test_the_example_of_api_md_is_valid():
    parsed = rules()

    assert parsed.fit_threshold == 40
    assert len(parsed.buckets) == 3
    assert parsed.intent_rules[2].max_count == 3


def test_defaults_for_half_life_and_lookback():
    document = copy.deepcopy(DOCUMENT)
    del document["half_life_days"], document["lookback_days"]

    parsed = parse_ruleset(document)

    assert (parsed.half_life_days, parsed.lookback_days) == (14, 90)


def test_unknown_field_and_operator_are_named():
    errors = invalid(
        fit_rules=[
            {"label": "Size", "field": "account.size", "op": "gte", "value": 5, "points": 1},
            {"label": "Big", "field": "account.employee_count", "op": "greater", "value": 5, "points": 1},
        ]
    )

    assert "Unknown field 'account.size'" in errors["fit_rules[0].field"][0]
    assert "Unknown operator 'greater'" in errors["fit_rules[1].op"][0]


def test_wrong_value_types_are_explained():
    errors = invalid(
        fit_rules=[
            {"label": "a", "field": "account.employee_count", "op": "gte", "value": "fifty", "points": 1},
            {"label": "b", "field": "account.employee_count", "op": "between", "value": [500, 50], "points": 1},
            {"label": "c", "field": "account.industry", "op": "in", "value": "software", "points": 1},
            {"label": "d", "field": "account.industry", "op": "exists", "value": "x", "points": "ten"},
        ]
    )

    assert "number" in errors["fit_rules[0].value"][0]
    assert "low end" in errors["fit_rules[1].value"][0]
    assert "list" in errors["fit_rules[2].value"][0]
    assert "takes no value" in errors["fit_rules[3].value"][0]
    assert "Must be a number" in errors["fit_rules[3].points"][0]


def test_a_last_bucket_with_conditions_is_refused():
    buckets = copy.deepcopy(DOCUMENT["buckets"])
    buckets[-1]["min_fit"] = 10

    errors = invalid(buckets=buckets)

    assert "last bucket" in errors["buckets[2]"][0]


def test_zero_intent_points_duplicate_bucket_keys_and_unknown_kinds_are_refused():
    buckets = copy.deepcopy(DOCUMENT["buckets"])
    buckets[1]["key"] = "P1"
    errors = invalid(
        intent_rules=[{"label": "x", "kind": "email", "points": 0}],
        buckets=buckets,
        thresholds=5,
    )

    assert "above 0" in errors["intent_rules[0].points"][0]
    assert "Unknown activity kind 'email'" in errors["intent_rules[0].kind"][0]
    assert "earlier bucket" in errors["buckets[1].key"][0]
    assert errors["thresholds"] == ["Unknown setting; remove it."]


def test_missing_thresholds_and_empty_lists_are_refused():
    document = copy.deepcopy(DOCUMENT)
    del document["fit_threshold"]
    document["buckets"] = []

    with pytest.raises(RulesetInvalid) as caught:
        parse_ruleset(document)

    assert caught.value.errors["fit_threshold"] == ["This field is required."]
    assert "at least one bucket" in caught.value.errors["buckets"][0]
