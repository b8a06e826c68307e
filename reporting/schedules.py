"""A crontab read in a named time zone rather than Celery's, for jobs that follow REPORT_TIME_ZONE."""

from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from celery.schedules import crontab


class ZonedCrontab(crontab):
    """``crontab`` whose fields are wall-clock times in ``time_zone`` (daylight saving included)."""

    def __init__(self, *, minute: str | int, hour: str | int, day_of_week: str | int, time_zone: str) -> None:
        super().__init__(minute=minute, hour=hour, day_of_week=day_of_week)
        self.spec = (minute, hour, day_of_week)
        self.time_zone = time_zone

    @property
    def tz(self) -> tzinfo:  # type: ignore[override]
        return ZoneInfo(self.time_zone)

    def __reduce__(self) -> Any:
        minute, hour, day_of_week = self.spec
        return _zoned_crontab, (minute, hour, day_of_week, self.time_zone)

    def __repr__(self) -> str:
        minute, hour, day_of_week = self.spec
        return f"<zoned crontab: {minute} {hour} {day_of_week} ({self.time_zone})>"


def _zoned_crontab(minute: str | int, hour: str | int, day_of_week: str | int, time_zone: str) -> ZonedCrontab:
    return ZonedCrontab(minute=minute, hour=hour, day_of_week=day_of_week, time_zone=time_zone)
