from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from access.decorators import role_required
from access.roles import Role

from . import selectors
from .selectors import WeekCounts

DASHBOARD_WEEKS = 12


@dataclass(frozen=True)
class Metric:
    field: str
    label: str
    description: str


METRICS = (
    Metric("qls", "Qualified leads", "QL episodes that started in the week"),
    Metric("opportunities", "Opportunities", "Meetings booked with sales in the week"),
    Metric("qos", "Qualified opportunities", "Opportunities a rep qualified in the week"),
    Metric("won", "Closed won", "Deals won in the week"),
)


@dataclass(frozen=True)
class Cell:
    value: int
    bar_percent: int


@dataclass(frozen=True)
class WeekRow:
    label: str
    monday: str
    in_progress: bool
    cells: list[Cell]


@dataclass(frozen=True)
class Tile:
    label: str
    description: str
    value: int
    change: str
    trend: str


def _value(week: WeekCounts, metric: Metric) -> int:
    value: int = getattr(week, metric.field)
    return value


def _week_rows(weeks: list[WeekCounts]) -> list[WeekRow]:
    peaks = {metric.field: max(_value(week, metric) for week in weeks) or 1 for metric in METRICS}
    return [
        WeekRow(
            label=week.label,
            monday=f"{week.monday:%b} {week.monday.day}",
            in_progress=week is weeks[-1],
            cells=[
                Cell(value=_value(week, metric), bar_percent=round(100 * _value(week, metric) / peaks[metric.field]))
                for metric in METRICS
            ],
        )
        for week in weeks
    ]


def _tile(metric: Metric, week: WeekCounts, week_before: WeekCounts) -> Tile:
    value, previous = _value(week, metric), _value(week_before, metric)
    if value == previous:
        change, trend = f"Same as {week_before.label}", "flat"
    else:
        trend = "up" if value > previous else "down"
        change = f"{trend.capitalize()} {abs(value - previous)} from {previous} in {week_before.label}"
    return Tile(label=metric.label, description=metric.description, value=value, change=change, trend=trend)


@role_required(Role.ANALYST)
def reporting_dashboard(request: HttpRequest) -> HttpResponse:
    weeks = selectors.weekly_funnel_counts(weeks=DASHBOARD_WEEKS)
    last_full_week, week_before = weeks[-2], weeks[-3]
    context = {
        "metrics": METRICS,
        "week_rows": _week_rows(weeks),
        "totals": [sum(_value(week, metric) for week in weeks) for metric in METRICS],
        "last_full_week": last_full_week,
        "tiles": [_tile(metric, last_full_week, week_before) for metric in METRICS],
        "has_activity": any(week.qls or week.opportunities or week.qos or week.won for week in weeks),
        "report_time_zone": settings.REPORT_TIME_ZONE,
        "weeks_shown": DASHBOARD_WEEKS,
    }
    return render(request, "reporting/dashboard.html", context)
