"""Properties of leads.scoring that hold for any activities and rules (hypothesis)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from leads.scoring import ActivityFact, FitResult, first_qualification, parse_ruleset, score_intent

T0 = datetime(2026, 1, 5, tzinfo=UTC)
NAMES = ("Demo Request", "Pricing Page Viewed", "Workspace Limit Reached", "Hello")
KINDS = ("form", "chat", "product", "meeting")


@st.composite
def rulesets(draw: st.DrawFn) -> Any:
    intent_rules = [
        {
            "label": f"rule {index}",
            "kind": draw(st.sampled_from(KINDS)),
            "names": draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)),
            "points": draw(st.integers(min_value=1, max_value=50)),
            **({"max_count": draw(st.integers(1, 3))} if draw(st.booleans()) else {}),
        }
        for index in range(draw(st.integers(1, 4)))
    ]
    return parse_ruleset(
        {
            "name": "property",
            "fit_threshold": 0,
            "intent_threshold": draw(st.integers(1, 80)),
            "half_life_days": draw(st.one_of(st.none(), st.integers(1, 30))),
            "lookback_days": draw(st.integers(1, 120)),
            "intent_rules": intent_rules,
            "buckets": [
                {"key": "P1", "label": "High", "sla_hours": 1, "min_intent": draw(st.integers(0, 100))},
                {"key": "P2", "label": "Rest", "sla_hours": 24},
            ],
        },
        version=1,
    )


@st.composite
def activity_lists(draw: st.DrawFn, *, min_size: int = 0) -> list[ActivityFact]:
    count = draw(st.integers(min_size, 12))
    return [
        ActivityFact(
            id=index + 1,
            kind=draw(st.sampled_from(KINDS)),
            name=draw(st.sampled_from(NAMES)),
            # Whole hours over 150 days, so ties happen.
            occurred_at=T0 + timedelta(hours=draw(st.integers(0, 24 * 150))),
            key=("test", f"{index:03d}"),
        )
        for index in range(count)
    ]


FIT = FitResult(score=0, hits=())


def episodes(rules: Any, activities: list[ActivityFact]) -> list[tuple[int, str]]:
    """Every episode replay gives when each one ends a day after it opened."""
    found = []
    since = None
    for _ in range(len(activities) + 1):
        qualifying = first_qualification(rules, FIT, activities, since=since)
        if qualifying is None:
            break
        found.append((qualifying.activity.id, qualifying.bucket.bucket.key))
        since = qualifying.at + timedelta(days=1)
    return found


@settings(max_examples=150, deadline=None)
@given(rules=rulesets(), activities=activity_lists(), data=st.data())
def test_the_result_does_not_depend_on_the_order_activities_arrived_in(rules, activities, data):
    shuffled = data.draw(st.permutations(activities))
    at = T0 + timedelta(days=data.draw(st.integers(0, 160)))

    assert score_intent(rules, shuffled, at).score == score_intent(rules, activities, at).score
    assert episodes(rules, list(shuffled)) == episodes(rules, activities)


@settings(max_examples=100, deadline=None)
@given(rules=rulesets(), activities=activity_lists())
def test_the_same_data_and_rules_always_give_the_same_episodes(rules, activities):
    first = episodes(rules, activities)

    assert episodes(rules, list(activities)) == first
    assert episodes(rules, activities) == first


@settings(max_examples=200, deadline=None)
@given(rules=rulesets(), activities=activity_lists(), data=st.data())
def test_adding_a_positive_point_activity_never_lowers_intent(rules, activities, data):
    rule = data.draw(st.sampled_from(rules.intent_rules))
    extra = ActivityFact(
        id=999,
        kind=rule.kind,
        name=rule.names[0] if rule.names else "Anything",
        occurred_at=T0 + timedelta(hours=data.draw(st.integers(0, 24 * 150))),
        key=("test", data.draw(st.sampled_from(["000", "500", "zzz"]))),
    )
    assert rule.matches(extra)
    at = T0 + timedelta(hours=data.draw(st.integers(0, 24 * 160)))

    before = score_intent(rules, activities, at).score
    after = score_intent(rules, [*activities, extra], at).score

    assert after >= before
