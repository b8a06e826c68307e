"""Reads of the weekly report: snapshot rows with their rates, and the records behind a cell."""

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, QuerySet, Value, When

from jobs.models import Job
from leads.models import Qualification
from opportunities.models import Opportunity

from .choices import REBUILD_JOB_KIND, Dimension
from .engine import column_rows
from .models import WeeklyReportRow
from .stats import iso_week_label, rate, wilson_interval


def report_time_zone() -> ZoneInfo:
    return ZoneInfo(settings.REPORT_TIME_ZONE)


@dataclass(frozen=True)
class ReportRow:
    """One week and slice of the weekly report, every column of FUNNEL.md, rates as fractions."""

    week: str
    monday: date
    dimension: str
    slice: str
    as_of: datetime
    qls: int
    opportunities: int
    qos: int
    won: int
    ql_cohort_qo: int
    ql_cohort_won: int
    ql_to_qo: float | None
    ql_to_qo_interval: tuple[float, float] | None
    qo_cohort_won: int
    qo_to_won: float | None
    qo_to_won_interval: tuple[float, float] | None
    ql_cohort_open: int
    qo_cohort_open: int
    median_days_ql_to_qo: float | None
    median_days_qo_to_won: float | None
    ql_to_qo_days: dict[str, Any] = field(default_factory=dict, compare=False)
    qo_to_won_days: dict[str, Any] = field(default_factory=dict, compare=False)


REPORT_FIELDS = tuple(
    name
    for name in ReportRow.__dataclass_fields__
    if name not in {"monday", "as_of", "ql_to_qo_days", "qo_to_won_days"}
)


def _report_row(row: WeeklyReportRow) -> ReportRow:
    return ReportRow(
        week=iso_week_label(row.week),
        monday=row.week,
        dimension=row.dimension,
        slice=row.slice,
        as_of=row.as_of,
        qls=row.qls,
        opportunities=row.opportunities,
        qos=row.qos,
        won=row.won,
        ql_cohort_qo=row.ql_cohort_qo,
        ql_cohort_won=row.ql_cohort_won,
        ql_to_qo=rate(row.ql_cohort_qo, row.qls),
        ql_to_qo_interval=wilson_interval(row.ql_cohort_qo, row.qls),
        qo_cohort_won=row.qo_cohort_won,
        qo_to_won=rate(row.qo_cohort_won, row.qos),
        qo_to_won_interval=wilson_interval(row.qo_cohort_won, row.qos),
        ql_cohort_open=row.ql_cohort_open,
        qo_cohort_open=row.qo_cohort_open,
        median_days_ql_to_qo=row.median_days_ql_to_qo,
        median_days_qo_to_won=row.median_days_qo_to_won,
        ql_to_qo_days=row.ql_to_qo_days,
        qo_to_won_days=row.qo_to_won_days,
    )


def weekly_report_rows(
    *, first_monday: date, last_monday: date, dimension: str, also: Collection[str] = ()
) -> list[ReportRow]:
    """The stored snapshot rows of ``dimension`` (and of any ``also``) and of ``all`` for the weeks in
    range, by week, ``all`` first, then by dimension and slice."""
    rows = WeeklyReportRow.objects.filter(
        time_zone=settings.REPORT_TIME_ZONE,
        week__gte=first_monday,
        week__lte=last_monday,
        dimension__in={dimension, Dimension.ALL, *also},
    ).order_by("week", Case(When(dimension=Dimension.ALL, then=Value(0)), default=Value(1)), "dimension", "slice")
    return [_report_row(row) for row in rows]


def weekly_report_as_of(rows: list[ReportRow]) -> datetime | None:
    """The as-of moment of the rows: the oldest, when rebuilds left weeks with different ones."""
    return min((row.as_of for row in rows), default=None)


def weekly_report_cell_as_of(*, monday: date, dimension: str, slice: str) -> datetime | None:
    """The as-of moment of the stored row behind a cell, so a drill-down lists what was counted."""
    return (
        WeeklyReportRow.objects.filter(
            time_zone=settings.REPORT_TIME_ZONE, week=monday, dimension=dimension, slice=slice
        )
        .values_list("as_of", flat=True)
        .first()
    )


def report_cell_episodes(
    *, column: str, monday: date, dimension: str, slice: str, as_of: datetime
) -> QuerySet[Qualification]:
    """The QL episodes counted in a cell, earliest first, with their lead and opportunity."""
    rows = column_rows(
        column=column, monday=monday, dimension=dimension, slice=slice, as_of=as_of, tz=report_time_zone()
    )
    return rows.select_related("lead", "opportunity").order_by("qualified_at", "pk")


def report_cell_opportunities(
    *, column: str, monday: date, dimension: str, slice: str, as_of: datetime
) -> QuerySet[Opportunity]:
    """The opportunities counted in a cell, earliest booking first, with their lead and episode."""
    rows = column_rows(
        column=column, monday=monday, dimension=dimension, slice=slice, as_of=as_of, tz=report_time_zone()
    )
    return rows.select_related("lead", "qualification").order_by("created_at", "pk")


def rebuild_job(*, job_id: int) -> Job | None:
    """A report rebuild job, for its progress on the dashboard."""
    return Job.objects.filter(pk=job_id, kind=REBUILD_JOB_KIND).first()
