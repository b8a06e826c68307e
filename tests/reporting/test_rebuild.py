import pickle
from datetime import UTC, date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from jobs.models import Job, JobStatus
from reporting.models import WeeklyReportRow
from reporting.schedules import ZonedCrontab
from reporting.tasks import rebuild_trailing_weeks, rebuild_weekly_report

from . import funnel_fixture
from .funnel_fixture import ZONE


def test_build_weekly_report_rebuilds_the_weeks_asked_for(db, settings):
    settings.REPORT_TIME_ZONE = ZONE
    funnel_fixture.build()
    out = StringIO()

    call_command("build_weekly_report", "--from", "2026-W01", "--to", "2026-W04", stdout=out)

    assert "Rebuilt 4 weeks (2026-W01 to 2026-W04)" in out.getvalue()
    assert WeeklyReportRow.objects.filter(dimension="all").count() == 4
    assert WeeklyReportRow.objects.get(dimension="all", week=date(2026, 1, 5)).qls == 6
    call_command("build_weekly_report", "--from", "2026-W01", "--to", "2026-W04", stdout=StringIO())
    assert WeeklyReportRow.objects.filter(dimension="all").count() == 4


def test_build_weekly_report_rejects_bad_weeks(db):
    with pytest.raises(CommandError, match="ISO week"):
        call_command("build_weekly_report", "--from", "January")
    with pytest.raises(CommandError, match="must not come after"):
        call_command("build_weekly_report", "--from", "2026-W05", "--to", "2026-W01")


def test_the_monday_task_rebuilds_the_trailing_weeks_with_a_job(db, settings):
    settings.REPORT_REBUILD_WEEKS = 3

    rows = rebuild_trailing_weeks()

    job = Job.objects.get(kind="weekly_report_rebuild")
    assert job.status == JobStatus.SUCCEEDED
    assert job.parameters["trigger"] == "schedule"
    assert rows == WeeklyReportRow.objects.count() == 3


def test_the_beat_schedule_runs_mondays_at_six_in_the_report_time_zone():
    entry = django_settings.CELERY_BEAT_SCHEDULE["rebuild-weekly-report"]
    assert entry["task"] == "reporting.tasks.rebuild_trailing_weeks"
    assert entry["options"]["expires"] > 0

    berlin = ZonedCrontab(minute=0, hour=6, day_of_week="mon", time_zone="Europe/Berlin")
    berlin.nowfun = lambda: datetime(2026, 12, 6, 12, tzinfo=UTC)  # Sunday
    last_run = datetime(2026, 11, 30, 5, tzinfo=UTC)  # Monday 06:00 in Berlin
    next_run = datetime(2026, 12, 6, 12, tzinfo=UTC) + berlin.remaining_estimate(last_run)
    assert next_run.astimezone(ZoneInfo("Europe/Berlin")) == datetime(2026, 12, 7, 6, tzinfo=ZoneInfo("Europe/Berlin"))
    restored = pickle.loads(pickle.dumps(berlin))
    assert restored.time_zone == "Europe/Berlin"
    assert restored.hour == {6}


def test_a_failed_rebuild_marks_its_job_failed(db):
    job = Job.objects.create(kind="weekly_report_rebuild")

    with pytest.raises(ValueError, match="not an ISO week"):
        rebuild_weekly_report(job.pk, "2026-W01", "last week")

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "not an ISO week" in job.message
