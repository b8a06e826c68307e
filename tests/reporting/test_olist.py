"""The weekly report on the real Olist marketing funnel, against figures computed from the CSVs."""

import statistics
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest

from reporting.selectors import weekly_report_rows
from reporting.services import weekly_report_rebuild
from reporting.stats import iso_week_label
from tests.conftest import require_service

from .olist import OlistLead, load_olist, olist_available, read_olist


def monday(moment) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday())


@pytest.fixture
def olist(db, settings) -> list[OlistLead]:
    require_service(olist_available(), "The Olist data set (../shared/data/olist/)")
    settings.REPORT_TIME_ZONE = "UTC"
    leads = read_olist()
    load_olist(leads)
    moments = [item.qualified_at for item in leads] + [item.won_at for item in leads if item.won_at]
    weekly_report_rebuild(first_monday=monday(min(moments)), last_monday=monday(max(moments)))
    return leads


def rows_of(dimension: str, leads: list[OlistLead]):
    moments = [item.qualified_at for item in leads] + [item.won_at for item in leads if item.won_at]
    rows = weekly_report_rows(first_monday=monday(min(moments)), last_monday=monday(max(moments)), dimension=dimension)
    return [row for row in rows if row.dimension == dimension]


def test_the_csvs_hold_the_published_funnel(olist):
    assert len(olist) == 8000
    assert sum(1 for item in olist if item.won_at) == 842


def test_overall_842_of_8000_qls_were_won(olist):
    everyone = rows_of("all", olist)

    assert sum(row.qls for row in everyone) == 8000
    assert sum(row.ql_cohort_won for row in everyone) == 842
    assert sum(row.won for row in everyone) == 842
    assert sum(row.qos for row in everyone) == 842
    assert sum(row.qo_cohort_won for row in everyone) == 842
    assert sum(row.ql_cohort_open for row in everyone) == 8000 - 842
    assert sum(row.qo_cohort_open for row in everyone) == 0


def test_per_origin_counts(olist):
    expected_qls = Counter(item.origin for item in olist)
    expected_won = Counter(item.origin for item in olist if item.won_at)
    qls: Counter[str] = Counter()
    won: Counter[str] = Counter()
    for row in rows_of("sub_source", olist):
        qls[row.slice] += row.qls
        won[row.slice] += row.ql_cohort_won

    assert +qls == expected_qls
    assert +won == expected_won
    assert qls["organic_search"] == 2296
    assert won["organic_search"] == expected_won["organic_search"]


def test_weekly_cohorts_and_medians(olist):
    qls = Counter(iso_week_label(monday(item.qualified_at)) for item in olist)
    cohort_won = Counter(iso_week_label(monday(item.qualified_at)) for item in olist if item.won_at)
    won = Counter(iso_week_label(monday(item.won_at)) for item in olist if item.won_at)
    days: dict[str, list[float]] = defaultdict(list)
    for item in olist:
        if item.won_at:
            days[iso_week_label(monday(item.qualified_at))].append(
                (item.won_at - item.qualified_at).total_seconds() / 86400
            )

    report = {row.week: row for row in rows_of("all", olist)}

    assert {week: row.qls for week, row in report.items() if row.qls} == dict(qls)
    assert {week: row.ql_cohort_won for week, row in report.items() if row.ql_cohort_won} == dict(cohort_won)
    assert {week: row.won for week, row in report.items() if row.won} == dict(won)
    for week, values in days.items():
        assert report[week].median_days_ql_to_qo == pytest.approx(statistics.median(values), abs=1e-5), week
        assert report[week].ql_to_qo == pytest.approx(cohort_won[week] / qls[week])
    assert all(row.median_days_qo_to_won in (None, 0.0) for row in report.values())
