"""What the dashboard shows, built from snapshot rows: tiles, charts as SVG geometry, tables.

Presentation only: every figure comes from ``selectors.ReportRow``; nothing here reads the database.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.urls import reverse

from .choices import ALL_SLICE, HISTOGRAM_BINS, PERCENTILES, Dimension
from .selectors import ReportRow
from .stats import iso_week_label, median, rate, week_start

SMALL_SAMPLE = 20
PRIOR_WEEKS = 4
SERIES_COUNT = 8


def drill_href(*, monday: date, dimension: str, slice: str, column: str) -> str:
    query = urlencode({"week": iso_week_label(monday), "dimension": dimension, "slice": slice, "column": column})
    return f"{reverse('reporting:drilldown')}?{query}"


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} d"


def slice_label(value: str) -> str:
    return value or "(none)"


@dataclass(frozen=True)
class Maturity:
    """A cohort is immature while it is younger than the typical time to convert (the median of the
    weekly medians in range): its rate will still rise."""

    as_of: datetime
    tz: ZoneInfo
    typical_ql_to_qo: float | None
    typical_qo_to_won: float | None

    def age_days(self, monday: date) -> float:
        end = week_start(monday + timedelta(weeks=1), self.tz)
        return (self.as_of - end).total_seconds() / 86400

    def immature(self, monday: date, typical: float | None) -> bool:
        return typical is not None and self.age_days(monday) < typical


@dataclass(frozen=True)
class Rate:
    value: float | None
    low: float | None
    high: float | None
    successes: int
    trials: int
    immature: bool

    @property
    def text(self) -> str:
        return percent(self.value)

    @property
    def interval_text(self) -> str:
        if self.low is None or self.high is None:
            return ""
        return f"{percent(self.low, 0)} to {percent(self.high, 0)}"

    @property
    def small_sample(self) -> bool:
        return 0 < self.trials < SMALL_SAMPLE


def ql_to_qo(row: ReportRow, maturity: Maturity) -> Rate:
    low, high = row.ql_to_qo_interval or (None, None)
    return Rate(
        row.ql_to_qo,
        low,
        high,
        row.ql_cohort_qo,
        row.qls,
        row.qls > 0 and maturity.immature(row.monday, maturity.typical_ql_to_qo),
    )


def qo_to_won(row: ReportRow, maturity: Maturity) -> Rate:
    low, high = row.qo_to_won_interval or (None, None)
    return Rate(
        row.qo_to_won,
        low,
        high,
        row.qo_cohort_won,
        row.qos,
        row.qos > 0 and maturity.immature(row.monday, maturity.typical_qo_to_won),
    )


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    href: str
    comparison: str
    trend: str
    description: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class BreakdownRow:
    label: str
    cells: list[Link]
    ql_to_qo: Rate
    qo_to_won: Rate
    ql_open_share: str
    qo_open_share: str
    median_ql_to_qo: str
    median_qo_to_won: str


@dataclass(frozen=True)
class WeekLine:
    label: str
    monday: date
    cells: list[Link]
    ql_to_qo: Rate
    qo_to_won: Rate


@dataclass
class TrendChart:
    title: str
    description: str
    width: int = 420
    height: int = 220
    bands: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    points: list[dict[str, object]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class StackedChart:
    title: str
    width: int = 420
    height: int = 220
    bars: list[dict[str, object]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Distribution:
    title: str
    count: int
    percentiles: list[tuple[str, str]]
    bins: list[tuple[str, int, int]]


COUNT_TILES = (
    ("qls", "Qualified leads", "QL episodes that started in the week"),
    ("opportunities", "Opportunities", "Meetings booked with sales in the week"),
    ("qos", "Qualified opportunities", "Opportunities a rep qualified in the week"),
    ("won", "Closed won", "Deals won in the week"),
)
BREAKDOWN_COUNTS = ("qls", "opportunities", "qos", "won", "ql_cohort_qo", "ql_cohort_won", "qo_cohort_won")
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 30


def typical_days(rows: Sequence[ReportRow], attribute: str) -> float | None:
    values = [value for row in rows if (value := getattr(row, attribute)) is not None]
    return median(values)


def _comparison(value: float, prior: float | None, formatter: Callable[[float], str]) -> tuple[str, str]:
    if prior is None:
        return "No earlier weeks to compare", "flat"
    if round(value, 6) == round(prior, 6):
        return f"Same as the {PRIOR_WEEKS}-week average", "flat"
    trend = "up" if value > prior else "down"
    return f"{trend.capitalize()} from {formatter(prior)} ({PRIOR_WEEKS}-week average)", trend


def kpi_tiles(selected: ReportRow, prior: Sequence[ReportRow], maturity: Maturity) -> list[Tile]:
    tiles = []
    for name, label, description in COUNT_TILES:
        value = getattr(selected, name)
        average = sum(getattr(row, name) for row in prior) / len(prior) if prior else None
        comparison, trend = _comparison(value, average, lambda number: f"{number:g}")
        href = drill_href(monday=selected.monday, dimension=Dimension.ALL, slice=ALL_SLICE, column=name)
        tiles.append(Tile(label, str(value), href, comparison, trend, description))
    for label, rate_of, successes, trials, column, description in (
        ("QL → QO", ql_to_qo, "ql_cohort_qo", "qls", "ql_cohort_qo", "Share of the week's QLs that became QOs"),
        ("QO → Won", qo_to_won, "qo_cohort_won", "qos", "qo_cohort_won", "Share of the week's QOs that were won"),
    ):
        current = rate_of(selected, maturity)
        pooled = rate(sum(getattr(row, successes) for row in prior), sum(getattr(row, trials) for row in prior))
        if current.value is None:
            comparison, trend = "No cohort this week", "flat"
        else:
            comparison, trend = _comparison(current.value, pooled, percent)
        flags = tuple(
            flag
            for flag, present in (("immature", current.immature), (f"n < {SMALL_SAMPLE}", current.small_sample))
            if present
        )
        interval = f", 95% interval {current.interval_text}" if current.interval_text else ""
        href = drill_href(monday=selected.monday, dimension=Dimension.ALL, slice=ALL_SLICE, column=column)
        tiles.append(Tile(label, current.text, href, comparison, trend, f"{description}{interval}.", flags))
    return tiles


def _scale(count: int, width: int) -> Callable[[int], float]:
    plot = width - LEFT - RIGHT
    if count <= 1:
        return lambda index: LEFT + plot / 2
    return lambda index: LEFT + plot * index / (count - 1)


def trend_chart(
    title: str,
    description: str,
    weeks: Sequence[tuple[date, ReportRow | None]],
    rate_of: Callable[[ReportRow], Rate],
    column: str,
) -> TrendChart:
    chart = TrendChart(title=title, description=description)
    rates = [(monday, rate_of(row) if row else None) for monday, row in weeks]
    highs = [item.high for _, item in rates if item and item.high is not None]
    top = max(0.1, min(1.0, (int(max(highs, default=0.1) * 10 + 0.999)) / 10))
    plot_height = chart.height - TOP - BOTTOM
    x_of = _scale(len(weeks), chart.width)

    def y_of(value: float) -> float:
        return round(TOP + plot_height * (1 - value / top), 1)

    chart.y_ticks = [(y_of(top * step / 4), percent(top * step / 4, 0)) for step in range(5)]
    every = max(1, len(weeks) // 6)
    chart.x_labels = [
        (round(x_of(index), 1), iso_week_label(monday)[5:])
        for index, (monday, _) in enumerate(weeks)
        if index % every == 0
    ]
    segment: list[tuple[float, Rate]] = []
    segments: list[list[tuple[float, Rate]]] = []
    for index, (monday, item) in enumerate(rates):
        if item is None or item.value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        x = round(x_of(index), 1)
        segment.append((x, item))
        chart.points.append(
            {
                "x": x,
                "y": y_of(item.value),
                "corner_x": round(x - 4, 1),
                "corner_y": round(y_of(item.value) - 4, 1),
                "immature": item.immature,
                "small": item.small_sample,
                "title": f"{iso_week_label(monday)}: {item.text} ({item.successes} of {item.trials})"
                + (f", 95% interval {item.interval_text}" if item.interval_text else "")
                + (", immature cohort" if item.immature else "")
                + (f", small sample (n < {SMALL_SAMPLE})" if item.small_sample else ""),
                "href": drill_href(monday=monday, dimension=Dimension.ALL, slice=ALL_SLICE, column=column),
            }
        )
    if segment:
        segments.append(segment)
    for part in segments:
        upper = [f"{x},{y_of(item.high or 0)}" for x, item in part]
        lower = [f"{x},{y_of(item.low or 0)}" for x, item in reversed(part)]
        chart.bands.append(" ".join(upper + lower))
        chart.lines.append(" ".join(f"{x},{y_of(item.value or 0)}" for x, item in part))
    return chart


def ql_volume_chart(mondays: Sequence[date], rows: Sequence[ReportRow]) -> StackedChart:
    chart = StackedChart(title="QL volume by source")
    sources = sorted({row.slice for row in rows if row.dimension == Dimension.SOURCE})
    series = {source: f"series-{index % SERIES_COUNT + 1}" for index, source in enumerate(sources)}
    chart.legend = [(slice_label(source), series[source]) for source in sources]
    by_week: dict[date, list[ReportRow]] = {}
    for row in rows:
        if row.dimension == Dimension.SOURCE and row.qls:
            by_week.setdefault(row.monday, []).append(row)
    peak = max((sum(row.qls for row in week) for week in by_week.values()), default=0) or 1
    plot_height = chart.height - TOP - BOTTOM
    plot_width = chart.width - LEFT - RIGHT
    slot = plot_width / max(len(mondays), 1)
    bar_width = round(max(2.0, slot * 0.7), 1)
    chart.y_ticks = [(round(TOP + plot_height * (1 - step / 4), 1), f"{peak * step / 4:g}") for step in range(5)]
    every = max(1, len(mondays) // 6)
    for index, monday in enumerate(mondays):
        x = round(LEFT + slot * index + (slot - bar_width) / 2, 1)
        if index % every == 0:
            chart.x_labels.append((round(x + bar_width / 2, 1), iso_week_label(monday)[5:]))
        base = 0.0
        for row in sorted(by_week.get(monday, []), key=lambda item: item.slice):
            height = plot_height * row.qls / peak
            chart.bars.append(
                {
                    "x": x,
                    "y": round(TOP + plot_height - base - height, 1),
                    "width": bar_width,
                    "height": round(height, 1),
                    "series": series[row.slice],
                    "title": f"{iso_week_label(monday)}, {slice_label(row.slice)}: {row.qls} QLs",
                    "href": drill_href(monday=monday, dimension=Dimension.SOURCE, slice=row.slice, column="qls"),
                }
            )
            base += height
    return chart


def _links(row: ReportRow, names: Sequence[str]) -> list[Link]:
    return [
        Link(
            str(getattr(row, name)),
            drill_href(monday=row.monday, dimension=row.dimension, slice=row.slice, column=name),
        )
        for name in names
    ]


def _share(part: int, whole: int) -> str:
    return percent(rate(part, whole), 0)


def breakdown(rows: Sequence[ReportRow], maturity: Maturity) -> list[BreakdownRow]:
    return [
        BreakdownRow(
            label=slice_label(row.slice),
            cells=_links(row, BREAKDOWN_COUNTS),
            ql_to_qo=ql_to_qo(row, maturity),
            qo_to_won=qo_to_won(row, maturity),
            ql_open_share=_share(row.ql_cohort_open, row.qls),
            qo_open_share=_share(row.qo_cohort_open, row.qos),
            median_ql_to_qo=days(row.median_days_ql_to_qo),
            median_qo_to_won=days(row.median_days_qo_to_won),
        )
        for row in rows
    ]


def week_lines(weeks: Sequence[tuple[date, ReportRow | None]], maturity: Maturity) -> list[WeekLine]:
    return [
        WeekLine(
            label=iso_week_label(monday),
            monday=monday,
            cells=_links(row, ("qls", "opportunities", "qos", "won")),
            ql_to_qo=ql_to_qo(row, maturity),
            qo_to_won=qo_to_won(row, maturity),
        )
        for monday, row in weeks
        if row is not None
    ]


def _bin_label(low: float, high: float | None) -> str:
    return f"{low:g} to {high:g} days" if high is not None else f"{low:g}+ days"


def distribution(title: str, data: dict[str, object]) -> Distribution | None:
    percentiles = data.get("percentiles")
    histogram = data.get("histogram")
    if not isinstance(percentiles, dict) or not isinstance(histogram, list):
        return None
    peak = max(histogram) or 1
    return Distribution(
        title=title,
        count=sum(histogram),
        percentiles=[(f"p{value}", days(percentiles.get(f"p{value}"))) for value in PERCENTILES],
        bins=[
            (_bin_label(low, high), count, round(100 * count / peak))
            for (low, high), count in zip(HISTOGRAM_BINS, histogram, strict=True)
        ],
    )


def build_dashboard(
    *, rows: Sequence[ReportRow], first: date, last: date, selected: date, dimension: str, tz: ZoneInfo, now: datetime
) -> dict[str, object]:
    """Everything the dashboard template shows, from the snapshot rows of ``first - 4 weeks``..``last``."""
    everyone = {row.monday: row for row in rows if row.dimension == Dimension.ALL}
    count = (last - first).days // 7 + 1
    mondays = [first + timedelta(weeks=offset) for offset in range(count)]
    in_range = [(monday, everyone.get(monday)) for monday in mondays]
    built = [row for _, row in in_range if row is not None]
    as_of = min((row.as_of for row in built), default=None)
    maturity = Maturity(
        as_of=as_of or now,
        tz=tz,
        typical_ql_to_qo=typical_days(built, "median_days_ql_to_qo"),
        typical_qo_to_won=typical_days(built, "median_days_qo_to_won"),
    )
    selected_row = everyone.get(selected)
    prior = [row for offset in range(1, PRIOR_WEEKS + 1) if (row := everyone.get(selected - timedelta(weeks=offset)))]
    slices = [row for row in rows if row.monday == selected and row.dimension == dimension]
    in_range_rows = [row for row in rows if first <= row.monday <= last]
    return {
        "as_of": as_of,
        "has_report": bool(built),
        "missing_weeks": [iso_week_label(monday) for monday, row in in_range if row is None],
        "selected_label": iso_week_label(selected),
        "selected_row": selected_row,
        "selected_immature_ql": selected_row is not None and ql_to_qo(selected_row, maturity).immature,
        "selected_immature_qo": selected_row is not None and qo_to_won(selected_row, maturity).immature,
        "tiles": kpi_tiles(selected_row, prior, maturity) if selected_row else [],
        "trend_charts": [
            trend_chart(
                "QL → QO by QL week",
                "Share of each week's QLs that reached QO, with its 95% Wilson interval.",
                in_range,
                lambda row: ql_to_qo(row, maturity),
                "ql_cohort_qo",
            ),
            trend_chart(
                "QO → Won by QO week",
                "Share of each week's QOs that were won, with its 95% Wilson interval.",
                in_range,
                lambda row: qo_to_won(row, maturity),
                "qo_cohort_won",
            ),
        ],
        "volume_chart": ql_volume_chart(mondays, in_range_rows),
        "breakdown": breakdown(slices, maturity),
        "dimension_label": Dimension(dimension).label,
        "week_lines": week_lines(in_range, maturity),
        "distributions": [
            item
            for item in (
                distribution("QL → QO", selected_row.ql_to_qo_days) if selected_row else None,
                distribution("QO → Won", selected_row.qo_to_won_days) if selected_row else None,
            )
            if item is not None
        ],
        "typical_ql_to_qo": days(maturity.typical_ql_to_qo),
        "typical_qo_to_won": days(maturity.typical_qo_to_won),
        "small_sample": SMALL_SAMPLE,
    }
