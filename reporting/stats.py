"""Pure report arithmetic: ISO weeks in a time zone, rates with Wilson intervals, medians."""

import math
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Z_95 = 1.959963984540054
_WEEK_LABEL = re.compile(r"^(?P<year>\d{4})-W(?P<week>\d{2})$")


def iso_week_label(monday: date) -> str:
    """``2026-W49`` for any day of that ISO week."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def parse_iso_week(label: str) -> date:
    """The Monday of an ISO week label such as ``2026-W07``; ``ValueError`` for anything else."""
    match = _WEEK_LABEL.match(label.strip())
    if not match:
        raise ValueError(f"{label!r} is not an ISO week like 2026-W07.")
    year, week = int(match["year"]), int(match["week"])
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError as error:
        raise ValueError(f"{label!r} is not a week of {year}.") from error


def week_monday(moment: datetime, tz: ZoneInfo) -> date:
    """The Monday, in ``tz``, of the ISO week holding ``moment``."""
    local_day = moment.astimezone(tz).date()
    return local_day - timedelta(days=local_day.weekday())


def week_start(monday: date, tz: ZoneInfo) -> datetime:
    """Monday 00:00 in ``tz``: the instant the week begins."""
    return datetime.combine(monday, time.min, tzinfo=tz)


def week_bounds(monday: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The half-open interval ``[start, end)`` of the ISO week beginning on ``monday`` in ``tz``."""
    return week_start(monday, tz), week_start(monday + timedelta(weeks=1), tz)


def mondays_between(first: date, last: date) -> list[date]:
    """Every Monday from ``first`` to ``last`` inclusive (both Mondays), oldest first."""
    count = (last - first).days // 7 + 1
    return [first + timedelta(weeks=offset) for offset in range(max(count, 0))]


def rate(successes: int, trials: int) -> float | None:
    """``successes / trials``; ``None`` when there were no trials."""
    if trials == 0:
        return None
    return successes / trials


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95% by default); ``None`` when there were no trials."""
    if trials == 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError("successes must lie between 0 and trials.")
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


def median(values: Sequence[float]) -> float | None:
    """The median; an even count gives the mean of the two middle values; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear-interpolated percentile (``fraction`` in [0, 1]), like PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)
