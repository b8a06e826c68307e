"""The weekly report, computed in SQL: every column of FUNNEL.md for every week, dimension and slice.

Each count is one ``GROUP BY`` (truncated week, slice) query; medians rank each group's durations
with window functions (``ROW_NUMBER`` and ``COUNT`` over the group) and average the middle one or
two, so PostgreSQL and SQLite give the same answer without loading rows into Python.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Case, CharField, Count, Expression, F, FloatField, Func, Q, QuerySet, Value, When
from django.db.models.functions import TruncWeek

from leads.models import Qualification
from opportunities.choices import UNQUALIFIED_BUCKET, OpportunityStage
from opportunities.models import Opportunity

from .choices import ALL_SLICE, COUNT_COLUMNS, HISTOGRAM_BINS, MEDIAN_COLUMNS, PERCENTILES, Dimension
from .stats import mondays_between, week_start

WON = OpportunityStage.WON


class DaysBetween(Func):
    """``end - start`` in days, as a real number (FUNNEL.md, "Scores": seconds / 86,400)."""

    template = "(EXTRACT(EPOCH FROM (%(expressions)s)) / 86400.0)"
    arg_joiner = " - "
    output_field = FloatField()

    def __init__(self, end: Any, start: Any) -> None:
        super().__init__(end, start)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="(julianday(%(expressions)s))", arg_joiner=") - julianday(", **extra_context
        )


@dataclass
class ReportCell:
    """The stored columns of one week and slice."""

    week: date
    dimension: str
    slice: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_COLUMNS, 0))
    medians: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(MEDIAN_COLUMNS))
    distributions: dict[str, dict[str, Any]] = field(default_factory=dict)


def _episode_slice(dimension: str) -> Expression | F:
    if dimension == Dimension.ALL:
        return Value(ALL_SLICE, output_field=CharField())
    return F(dimension)


def _opportunity_slice(dimension: str) -> Expression | F:
    """An opportunity's slice is its episode's; an unqualified one has bucket ``unqualified`` and the
    lead's first-touch source and sub-source."""
    if dimension == Dimension.ALL:
        return Value(ALL_SLICE, output_field=CharField())
    unqualified = Q(qualification__isnull=True)
    if dimension == Dimension.BUCKET:
        return Case(
            When(unqualified, then=Value(UNQUALIFIED_BUCKET)),
            default=F("qualification__bucket"),
            output_field=CharField(),
        )
    return Case(
        When(unqualified, then=F(f"lead__{dimension}")),
        default=F(f"qualification__{dimension}"),
        output_field=CharField(),
    )


def _week_key(value: Any) -> date:
    """The Monday of a truncated week as the database returned it (a datetime, a date or a string)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class _Window:
    tz: ZoneInfo
    start: datetime
    end: datetime
    as_of: datetime

    def within(self, column: str) -> Q:
        return Q(**{f"{column}__gte": self.start, f"{column}__lt": self.end, f"{column}__lte": self.as_of})

    def weekly(self, rows: QuerySet[Any], column: str, slice_expression: Expression | F) -> QuerySet[Any]:
        return (
            rows.filter(self.within(column))
            .annotate(report_week=TruncWeek(column, tzinfo=self.tz), report_slice=slice_expression)
            .values("report_week", "report_slice")
        )


def _percentile_sql(percent: int) -> str:
    """percentile_cont(percent / 100) of ``days`` over a ranked group, in integer arithmetic that
    PostgreSQL and SQLite evaluate alike. At 50 it is the median: the mean of the middle two of an
    even count."""
    scaled = f"({percent} * (size - 1))"
    lower = f"({scaled} / 100 + 1)"
    remainder = f"({scaled} - 100 * ({scaled} / 100))"
    return (
        f"SUM(CASE WHEN position = {lower} THEN days * (100 - {remainder}) / 100.0 "
        f"WHEN position = {lower} + 1 THEN days * {remainder} / 100.0 ELSE 0 END)"
    )


def _histogram_sql(low: float, high: float | None) -> str:
    upper = f" AND days < {high}" if high is not None else ""
    return f"SUM(CASE WHEN days >= {low}{upper} THEN 1 ELSE 0 END)"


def _distribution_by_group(grouped: QuerySet[Any]) -> dict[tuple[date, str], dict[str, Any]]:
    """Median, percentiles and histogram of ``days`` per (week, slice) of a query annotated with
    ``report_week``, ``report_slice`` and ``days``."""
    inner, params = grouped.values("report_week", "report_slice", "days").query.sql_with_params()
    percentiles = ", ".join(_percentile_sql(percent) for percent in PERCENTILES)
    bins = ", ".join(_histogram_sql(low, high) for low, high in HISTOGRAM_BINS)
    sql = f"""
        SELECT report_week, report_slice, {percentiles}, {bins} FROM (
            SELECT report_week, report_slice, days,
                   ROW_NUMBER() OVER (PARTITION BY report_week, report_slice ORDER BY days) AS position,
                   COUNT(*) OVER (PARTITION BY report_week, report_slice) AS size
            FROM ({inner}) AS durations
        ) AS ranked
        GROUP BY report_week, report_slice
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        result: dict[tuple[date, str], dict[str, Any]] = {}
        for week, key, *values in cursor.fetchall():
            quantiles = [round(float(value), 6) for value in values[: len(PERCENTILES)]]
            histogram = [int(count) for count in values[len(PERCENTILES) :]]
            result[(_week_key(week), str(key))] = {
                "median": quantiles[PERCENTILES.index(50)],
                "percentiles": dict(zip((f"p{percent}" for percent in PERCENTILES), quantiles, strict=True)),
                "histogram": histogram,
            }
        return result


def compute_weekly_report(
    *, first_monday: date, last_monday: date, as_of: datetime, tz: ZoneInfo, dimension: str
) -> list[ReportCell]:
    """Every week from ``first_monday`` to ``last_monday`` (inclusive) of one dimension, as of ``as_of``.

    A dimension has a row per week for every slice seen in the range (``all`` has one per week), so
    a week without activity reads as zeros rather than as missing.
    """
    mondays = mondays_between(first_monday, last_monday)
    if not mondays:
        return []
    end = week_start(mondays[-1] + timedelta(weeks=1), tz)
    window = _Window(tz=tz, start=week_start(mondays[0], tz), end=end, as_of=as_of)
    return _dimension_cells(window, dimension, mondays)


@dataclass(frozen=True)
class Column:
    """A counted column: which rows (episodes or opportunities), the milestone that places them in a
    week, and what else they must satisfy as of the report's moment."""

    name: str
    subject: str
    milestone: str
    condition: Callable[[datetime], Q] | None = None

    def rows(self) -> QuerySet[Any]:
        return Qualification.objects.all() if self.subject == EPISODES else Opportunity.objects.all()

    def slice_expression(self, dimension: str) -> Expression | F:
        return _episode_slice(dimension) if self.subject == EPISODES else _opportunity_slice(dimension)


EPISODES, OPPORTUNITIES = "episodes", "opportunities"
COLUMNS = (
    Column("qls", EPISODES, "qualified_at"),
    Column("ql_cohort_qo", EPISODES, "qualified_at", lambda as_of: Q(opportunity__qualified_at__lte=as_of)),
    Column(
        "ql_cohort_won",
        EPISODES,
        "qualified_at",
        lambda as_of: Q(opportunity__stage=WON, opportunity__closed_at__lte=as_of),
    ),
    Column("ql_cohort_open", EPISODES, "qualified_at", lambda as_of: Q(ended_at__isnull=True) | Q(ended_at__gt=as_of)),
    Column("opportunities", OPPORTUNITIES, "created_at"),
    Column("qos", OPPORTUNITIES, "qualified_at"),
    Column("qo_cohort_won", OPPORTUNITIES, "qualified_at", lambda as_of: Q(stage=WON, closed_at__lte=as_of)),
    Column(
        "qo_cohort_open",
        OPPORTUNITIES,
        "qualified_at",
        lambda as_of: Q(closed_at__isnull=True) | Q(closed_at__gt=as_of),
    ),
    Column("won", OPPORTUNITIES, "closed_at", lambda as_of: Q(stage=WON)),
)
COLUMNS_BY_NAME = {column.name: column for column in COLUMNS}


def column_rows(
    *, column: str, monday: date, dimension: str, slice: str, as_of: datetime, tz: ZoneInfo
) -> QuerySet[Any]:
    """The episodes or opportunities counted in one cell of the report: the drill-down behind a number."""
    definition = COLUMNS_BY_NAME[column]
    window = _Window(tz=tz, start=week_start(monday, tz), end=week_start(monday + timedelta(weeks=1), tz), as_of=as_of)
    rows = definition.rows().filter(window.within(definition.milestone))
    if definition.condition is not None:
        rows = rows.filter(definition.condition(as_of))
    return rows.alias(report_slice=definition.slice_expression(dimension)).filter(report_slice=slice)


def _dimension_cells(window: _Window, dimension: str, mondays: list[date]) -> list[ReportCell]:
    as_of = window.as_of
    table: dict[tuple[date, str], dict[str, int]] = defaultdict(dict)
    groups: dict[tuple[str, str], list[Column]] = defaultdict(list)
    for column in COLUMNS:
        groups[(column.subject, column.milestone)].append(column)
    for columns in groups.values():
        first = columns[0]
        counts = {
            column.name: Count("pk", filter=column.condition(as_of) if column.condition else None) for column in columns
        }
        grouped = window.weekly(first.rows(), first.milestone, first.slice_expression(dimension)).annotate(**counts)
        for row in grouped.order_by():
            key = (_week_key(row.pop("report_week")), str(row.pop("report_slice")))
            table[key].update(row)

    distributions: dict[str, dict[tuple[date, str], dict[str, Any]]] = {
        "ql_to_qo": _distribution_by_group(
            window.weekly(
                Qualification.objects.filter(opportunity__qualified_at__lte=as_of),
                "qualified_at",
                _episode_slice(dimension),
            ).annotate(days=DaysBetween(F("opportunity__qualified_at"), F("qualified_at")))
        ),
        "qo_to_won": _distribution_by_group(
            window.weekly(
                Opportunity.objects.filter(stage=WON, closed_at__lte=as_of),
                "qualified_at",
                _opportunity_slice(dimension),
            ).annotate(days=DaysBetween(F("closed_at"), F("qualified_at")))
        ),
    }
    slices = [ALL_SLICE] if dimension == Dimension.ALL else sorted({value for _, value in table})
    cells = []
    for monday in mondays:
        for value in slices:
            cell = ReportCell(week=monday, dimension=dimension, slice=value)
            cell.counts.update(table.get((monday, value), {}))
            for step, by_group in distributions.items():
                distribution = by_group.get((monday, value))
                if distribution is not None:
                    cell.medians[f"median_days_{step}"] = distribution["median"]
                    cell.distributions[f"{step}_days"] = {
                        "percentiles": distribution["percentiles"],
                        "histogram": distribution["histogram"],
                    }
            cells.append(cell)
    return cells
