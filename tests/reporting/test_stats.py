from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from reporting.stats import (
    iso_week_label,
    median,
    mondays_between,
    parse_iso_week,
    percentile,
    rate,
    week_bounds,
    week_monday,
    wilson_interval,
)


def test_iso_week_labels_follow_the_iso_calendar_across_new_year():
    assert iso_week_label(date(2026, 12, 28)) == "2026-W53"
    assert iso_week_label(date(2027, 1, 3)) == "2026-W53"
    assert iso_week_label(date(2027, 1, 4)) == "2027-W01"
    assert iso_week_label(date(2025, 12, 29)) == "2026-W01"


def test_parsing_a_week_label_gives_its_monday_and_rejects_anything_else():
    assert parse_iso_week("2026-W01") == date(2025, 12, 29)
    assert parse_iso_week("2026-W53") == date(2026, 12, 28)
    for bad in ("2026-W54", "2025-W53", "2026-7", "W07", ""):
        with pytest.raises(ValueError, match="week"):
            parse_iso_week(bad)


def test_a_week_runs_from_monday_midnight_to_monday_midnight_in_the_zone():
    berlin = ZoneInfo("Europe/Berlin")
    start, end = week_bounds(date(2026, 3, 23), berlin)
    # Daylight saving starts on 2026-03-29: this week is one hour short.
    assert start == datetime(2026, 3, 22, 23, tzinfo=UTC)
    assert end == datetime(2026, 3, 29, 22, tzinfo=UTC)


def test_the_week_of_a_moment_depends_on_the_zone():
    sunday_night_utc = datetime(2026, 2, 8, 20, tzinfo=UTC)
    assert week_monday(sunday_night_utc, ZoneInfo("UTC")) == date(2026, 2, 2)
    assert week_monday(sunday_night_utc, ZoneInfo("Pacific/Auckland")) == date(2026, 2, 9)
    assert week_monday(datetime(2026, 2, 9, 3, tzinfo=UTC), ZoneInfo("America/New_York")) == date(2026, 2, 2)


def test_mondays_between_is_inclusive():
    assert mondays_between(date(2026, 1, 5), date(2026, 1, 19)) == [
        date(2026, 1, 5),
        date(2026, 1, 12),
        date(2026, 1, 19),
    ]
    assert mondays_between(date(2026, 1, 19), date(2026, 1, 5)) == []


def test_rates_are_null_without_a_denominator():
    assert rate(3, 4) == 0.75
    assert rate(0, 0) is None
    assert wilson_interval(0, 0) is None


def test_wilson_intervals_match_published_values():
    # Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = wilson_interval(15, 148)
    assert (round(low, 4), round(high, 4)) == (0.0624, 0.1605)
    # All or nothing still leaves room on the other side.
    assert wilson_interval(0, 10)[0] == 0.0
    assert round(wilson_interval(0, 10)[1], 4) == 0.2775
    assert round(wilson_interval(10, 10)[0], 4) == 0.7225
    with pytest.raises(ValueError, match="between 0 and trials"):
        wilson_interval(5, 4)


def test_medians_of_even_counts_average_the_two_middle_values():
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 10.0]) == 3.5
    assert median([]) is None


def test_percentiles_interpolate_between_ranks():
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0.5) == 2.5
    assert percentile(values, 0.9) == pytest.approx(3.7)
    assert percentile(values, 0.0) == 1.0
    assert percentile([], 0.5) is None
