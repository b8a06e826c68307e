from django.db import models


class Dimension(models.TextChoices):
    """What a weekly report row is sliced by; ``all`` is the whole funnel."""

    ALL = "all", "All"
    SOURCE = "source", "Source"
    SUB_SOURCE = "sub_source", "Sub-source"
    BUCKET = "bucket", "Bucket"


ALL_SLICE = "all"
SLICE_DIMENSIONS = (Dimension.SOURCE, Dimension.SUB_SOURCE, Dimension.BUCKET)

# Every stored column of FUNNEL.md's weekly report; rates and intervals derive from them.
COUNT_COLUMNS = (
    "qls",
    "opportunities",
    "qos",
    "won",
    "ql_cohort_qo",
    "ql_cohort_won",
    "qo_cohort_won",
    "ql_cohort_open",
    "qo_cohort_open",
)
MEDIAN_COLUMNS = ("median_days_ql_to_qo", "median_days_qo_to_won")

# The time-to-convert distribution kept beside each median: percentiles, and a histogram in days.
PERCENTILES = (10, 25, 50, 75, 90)
HISTOGRAM_BINS: tuple[tuple[float, float | None], ...] = (
    (0, 1),
    (1, 3),
    (3, 7),
    (7, 14),
    (14, 30),
    (30, 60),
    (60, 90),
    (90, None),
)

REBUILD_JOB_KIND = "weekly_report_rebuild"
