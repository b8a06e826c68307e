from django.db import models
from django.db.models import Q

from .choices import Dimension


class WeeklyReportRow(models.Model):
    """One week and slice of the weekly report, as computed at ``as_of`` (FUNNEL.md, "Weekly report").

    Rows are snapshots: a rebuild replaces the rows of the weeks it covers. ``time_zone`` is the
    REPORT_TIME_ZONE the weeks were cut in, so a change of zone never mixes two calendars.
    """

    time_zone = models.CharField(max_length=64)
    week = models.DateField(help_text="The Monday the ISO week starts on, in time_zone.")
    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    slice = models.CharField(max_length=255, blank=True)
    as_of = models.DateTimeField()
    qls = models.PositiveIntegerField(default=0)
    opportunities = models.PositiveIntegerField(default=0)
    qos = models.PositiveIntegerField(default=0)
    won = models.PositiveIntegerField(default=0)
    ql_cohort_qo = models.PositiveIntegerField(default=0)
    ql_cohort_won = models.PositiveIntegerField(default=0)
    qo_cohort_won = models.PositiveIntegerField(default=0)
    ql_cohort_open = models.PositiveIntegerField(default=0)
    qo_cohort_open = models.PositiveIntegerField(default=0)
    median_days_ql_to_qo = models.FloatField(null=True, blank=True)
    median_days_qo_to_won = models.FloatField(null=True, blank=True)
    # {"percentiles": {"p10": ..., "p90": ...}, "histogram": [count per HISTOGRAM_BINS]}; {} when empty.
    ql_to_qo_days = models.JSONField(default=dict, blank=True)
    qo_to_won_days = models.JSONField(default=dict, blank=True)
    built_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["week", "dimension", "slice"]
        constraints = [
            models.UniqueConstraint(fields=["time_zone", "week", "dimension", "slice"], name="report_row_unique"),
            models.CheckConstraint(condition=Q(dimension__in=Dimension.values), name="report_row_dimension_valid"),
            models.CheckConstraint(
                condition=Q(ql_cohort_qo__lte=models.F("qls"))
                & Q(ql_cohort_won__lte=models.F("ql_cohort_qo"))
                & Q(qo_cohort_won__lte=models.F("qos")),
                name="report_row_cohorts_within_totals",
            ),
        ]
        indexes = [models.Index(fields=["time_zone", "dimension", "week"], name="report_row_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.week} {self.dimension}={self.slice}"
