"""Reads for the dashboard: funnel counts per ISO week in REPORT_TIME_ZONE, aggregated in SQL."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from leads.models import Qualification
from opportunities.choices import OpportunityStage
from opportunities.models import Opportunity


@dataclass(frozen=True)
class WeekCounts:
    """Funnel milestones reached in one ISO week (FUNNEL.md, "Weekly report")."""

    monday: date
    qls: int
    opportunities: int
    qos: int
    won: int

    @property
    def label(self) -> str:
        return iso_week_label(self.monday)


def iso_week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def report_time_zone() -> ZoneInfo:
    return ZoneInfo(settings.REPORT_TIME_ZONE)


def week_monday(moment: datetime, tz: ZoneInfo) -> date:
    """The Monday, in ``tz``, of the ISO week holding ``moment``."""
    local_day = moment.astimezone(tz).date()
    return local_day - timedelta(days=local_day.weekday())


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _count_by_week(rows: QuerySet[Any], field: str, *, tz: ZoneInfo, start: datetime, end: datetime) -> dict[date, int]:
    weekly = (
        rows.filter(**{f"{field}__gte": start, f"{field}__lt": end})
        .annotate(week=TruncWeek(field, tzinfo=tz))
        .values("week")
        .annotate(count=Count("pk"))
        .order_by("week")
    )
    return {row["week"].astimezone(tz).date(): row["count"] for row in weekly}


def weekly_funnel_counts(*, weeks: int = 12, as_of: datetime | None = None) -> list[WeekCounts]:
    """The last ``weeks`` ISO weeks up to the one holding ``as_of`` (default now), oldest first.

    QLs are episodes by ``qualified_at``; opportunities by ``created_at``; QOs are opportunities by
    ``qualified_at``; won are won opportunities by ``closed_at``.
    """
    tz = report_time_zone()
    current = week_monday(as_of or timezone.now(), tz)
    mondays = [current - timedelta(weeks=weeks - 1 - offset) for offset in range(weeks)]
    start, end = _midnight(mondays[0], tz), _midnight(current + timedelta(weeks=1), tz)

    def count(rows: QuerySet[Any], field: str) -> dict[date, int]:
        return _count_by_week(rows, field, tz=tz, start=start, end=end)

    qls = count(Qualification.objects.all(), "qualified_at")
    created = count(Opportunity.objects.all(), "created_at")
    qos = count(Opportunity.objects.all(), "qualified_at")
    won = count(Opportunity.objects.filter(stage=OpportunityStage.WON), "closed_at")
    return [
        WeekCounts(
            monday=monday,
            qls=qls.get(monday, 0),
            opportunities=created.get(monday, 0),
            qos=qos.get(monday, 0),
            won=won.get(monday, 0),
        )
        for monday in mondays
    ]
