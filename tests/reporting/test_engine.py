from datetime import UTC, date, datetime

import pytest

from reporting.models import WeeklyReportRow
from reporting.selectors import weekly_report_rows
from reporting.services import weekly_report_rebuild
from reporting.stats import wilson_interval

from . import funnel_fixture
from .funnel_fixture import AS_OF, ZONE

W02, W03 = date(2026, 1, 5), date(2026, 1, 12)


@pytest.fixture
def funnel(db, settings):
    settings.REPORT_TIME_ZONE = ZONE
    funnel_fixture.build()


def report(dimension: str, as_of: datetime = AS_OF) -> dict[tuple[str, str], dict]:
    weekly_report_rebuild(first_monday=W02, last_monday=W03, as_of=as_of)
    rows = weekly_report_rows(first_monday=W02, last_monday=W03, dimension=dimension)
    return {(row.week, row.slice): row.__dict__ for row in rows if row.dimension == dimension}


def columns(row: dict, names: str) -> tuple:
    return tuple(row[name] for name in names.split())


COUNTS = "qls opportunities qos won ql_cohort_qo ql_cohort_won qo_cohort_won ql_cohort_open qo_cohort_open"


def test_every_column_of_the_whole_funnel(funnel):
    rows = report("all")

    w02, w03 = rows[("2026-W02", "all")], rows[("2026-W03", "all")]
    assert columns(w02, COUNTS) == (6, 5, 4, 1, 4, 2, 3, 1, 1)
    assert w02["ql_to_qo"] == pytest.approx(4 / 6)
    assert w02["ql_to_qo_interval"] == pytest.approx(wilson_interval(4, 6))
    assert w02["qo_to_won"] == pytest.approx(3 / 4)
    assert w02["qo_to_won_interval"] == pytest.approx(wilson_interval(3, 4))
    # QL -> QO: F 1.25, A 2.0, C 2.5, B 4.0 days: an even count, so the mean of 2.0 and 2.5.
    assert w02["median_days_ql_to_qo"] == pytest.approx(2.25)
    # QO -> Won: B 0 (skipped stage), E 4.0, A 5.0 days.
    assert w02["median_days_qo_to_won"] == pytest.approx(4.0)

    assert columns(w03, COUNTS) == (1, 1, 1, 2, 0, 0, 0, 1, 0)
    assert w03["ql_to_qo"] == 0.0
    assert w03["qo_to_won"] == 0.0
    assert w03["median_days_ql_to_qo"] is None
    assert w03["median_days_qo_to_won"] is None


def test_slices_by_source_put_unqualified_opportunities_under_the_leads_first_touch(funnel):
    rows = report("source")

    assert set(rows) == {
        (week, key) for week in ("2026-W02", "2026-W03") for key in ("chat", "inbound", "other", "product")
    }
    inbound = rows[("2026-W02", "inbound")]
    assert columns(inbound, COUNTS) == (5, 4, 3, 1, 3, 2, 2, 1, 1)
    assert inbound["median_days_ql_to_qo"] == pytest.approx(2.0)
    assert inbound["median_days_qo_to_won"] == pytest.approx(2.5)
    chat = rows[("2026-W02", "chat")]
    assert columns(chat, COUNTS) == (1, 0, 0, 0, 1, 0, 0, 0, 0)
    assert chat["ql_to_qo"] == 1.0
    assert chat["qo_to_won"] is None
    assert chat["qo_to_won_interval"] is None
    assert chat["median_days_ql_to_qo"] == pytest.approx(2.5)
    other = rows[("2026-W02", "other")]
    assert columns(other, COUNTS) == (0, 1, 1, 0, 0, 0, 1, 0, 0)
    assert other["ql_to_qo"] is None
    assert other["ql_to_qo_interval"] is None
    assert other["median_days_qo_to_won"] == pytest.approx(4.0)
    assert columns(rows[("2026-W02", "product")], COUNTS) == (0,) * 9
    assert columns(rows[("2026-W03", "product")], COUNTS) == (1, 0, 0, 0, 0, 0, 0, 1, 0)
    assert columns(rows[("2026-W03", "other")], COUNTS) == (0, 0, 0, 1, 0, 0, 0, 0, 0)
    assert columns(rows[("2026-W03", "chat")], COUNTS) == (0, 1, 1, 0, 0, 0, 0, 0, 0)


def test_buckets_come_from_the_episode_and_re_qualification_counts_again(funnel):
    rows = report("bucket")

    assert columns(rows[("2026-W02", "P1")], COUNTS) == (4, 3, 2, 0, 3, 1, 1, 1, 1)
    assert columns(rows[("2026-W02", "P2")], COUNTS) == (2, 1, 1, 1, 1, 1, 1, 0, 0)
    assert columns(rows[("2026-W02", "unqualified")], COUNTS) == (0, 1, 1, 0, 0, 0, 1, 0, 0)
    assert columns(rows[("2026-W03", "P3")], COUNTS) == (1, 0, 0, 0, 0, 0, 0, 1, 0)
    assert columns(rows[("2026-W03", "unqualified")], COUNTS) == (0, 0, 0, 1, 0, 0, 0, 0, 0)
    assert rows[("2026-W02", "P1")]["median_days_ql_to_qo"] == pytest.approx(2.0)


def test_sub_source_slices(funnel):
    rows = report("sub_source")

    assert columns(rows[("2026-W02", "google")], COUNTS) == (4, 4, 3, 1, 3, 2, 2, 1, 1)
    assert columns(rows[("2026-W02", "linkedin")], COUNTS) == (1, 0, 0, 0, 0, 0, 0, 0, 0)
    assert columns(rows[("2026-W02", "partner")], COUNTS) == (0, 1, 1, 0, 0, 0, 1, 0, 0)
    assert columns(rows[("2026-W03", "linkedin")], COUNTS) == (1, 0, 0, 0, 0, 0, 0, 1, 0)


def test_weeks_are_cut_in_the_report_time_zone(funnel, settings):
    settings.REPORT_TIME_ZONE = "UTC"
    rows = report("source")

    # C qualified on Sunday 23:30 in New York, which is Monday in UTC: it moves to W03.
    assert rows[("2026-W02", "chat")]["qls"] == 0
    assert rows[("2026-W03", "chat")]["qls"] == 1
    assert WeeklyReportRow.objects.filter(time_zone="UTC").exists()


def test_an_earlier_as_of_moment_sees_younger_cohorts(funnel):
    rows = report("all", as_of=datetime(2026, 1, 11, 5, tzinfo=UTC))  # Sat 10 Jan, midnight in New York

    w02 = rows[("2026-W02", "all")]
    # C (Sunday) has not qualified yet; A is a QO but not won; B, E and F are not yet won or QO'd.
    assert columns(w02, COUNTS) == (5, 5, 4, 1, 3, 1, 1, 2, 3)
    assert columns(rows[("2026-W03", "all")], COUNTS) == (0,) * 9


def test_rebuilding_is_idempotent_and_replaces_only_its_weeks(funnel):
    report("all")
    first = list(WeeklyReportRow.objects.order_by("pk").values(*COUNTS.split(), "week", "dimension", "slice"))
    weekly_report_rebuild(first_monday=W02, last_monday=W03, as_of=AS_OF)
    again = list(WeeklyReportRow.objects.order_by("pk").values(*COUNTS.split(), "week", "dimension", "slice"))
    assert again == first
    weekly_report_rebuild(first_monday=W03, last_monday=W03, as_of=datetime(2026, 1, 13, tzinfo=UTC))
    w02 = WeeklyReportRow.objects.get(week=W02, dimension="all")
    w03 = WeeklyReportRow.objects.get(week=W03, dimension="all")
    assert w02.as_of == AS_OF
    assert w03.as_of == datetime(2026, 1, 13, tzinfo=UTC)
    assert WeeklyReportRow.objects.filter(week=W02).count() == len([row for row in first if row["week"] == W02])
    # As of Monday 12 January 19:00 in New York only A (won) and C (booked) had touched W03.
    assert set(WeeklyReportRow.objects.filter(week=W03, dimension="source").values_list("slice", flat=True)) == {
        "chat",
        "inbound",
    }


def test_time_to_convert_distributions_are_kept_beside_the_medians(funnel):
    report("all")

    w02 = WeeklyReportRow.objects.get(week=W02, dimension="all")
    assert w02.ql_to_qo_days["percentiles"] == pytest.approx(
        {"p10": 1.475, "p25": 1.8125, "p50": 2.25, "p75": 2.875, "p90": 3.55}
    )
    assert w02.ql_to_qo_days["histogram"] == [0, 3, 1, 0, 0, 0, 0, 0]
    assert w02.qo_to_won_days["histogram"] == [1, 0, 2, 0, 0, 0, 0, 0]
    assert w02.qo_to_won_days["percentiles"]["p90"] == pytest.approx(4.8)
    assert WeeklyReportRow.objects.get(week=W03, dimension="all").ql_to_qo_days == {}
