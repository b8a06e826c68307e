import csv
import io
from datetime import date

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jobs.models import Job, JobStatus
from reporting.exports import spreadsheet_safe
from reporting.models import WeeklyReportRow
from reporting.services import weekly_report_rebuild
from reporting.stats import wilson_interval
from reporting.tasks import rebuild_weekly_report

from . import funnel_fixture
from .funnel_fixture import AS_OF, ZONE

URL = "/api/v1/reports/weekly/"
CSV_URL = "/api/v1/reports/weekly.csv"
REFRESH_URL = "/api/v1/reports/weekly/refresh/"
COLUMNS = {
    "week", "dimension", "slice", "qls", "opportunities", "qos", "won", "ql_cohort_qo", "ql_cohort_won",
    "ql_to_qo", "ql_to_qo_interval", "qo_cohort_won", "qo_to_won", "qo_to_won_interval", "ql_cohort_open",
    "qo_cohort_open", "median_days_ql_to_qo", "median_days_qo_to_won",
}  # fmt: skip


def api_as(make_user, role: str) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=make_user(role, role=role))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def analyst_api(make_user) -> APIClient:
    return api_as(make_user, "analyst")


@pytest.fixture
def built(db, settings):
    settings.REPORT_TIME_ZONE = ZONE
    funnel_fixture.build()
    weekly_report_rebuild(first_monday=date(2026, 1, 5), last_monday=date(2026, 1, 12), as_of=AS_OF)


def test_the_json_report_has_every_column_and_an_all_slice_per_week(analyst_api, built):
    response = analyst_api.get(URL, {"from": "2026-W02", "to": "2026-W03", "dimension": "source"})

    assert response.status_code == 200
    body = response.json()
    assert body["as_of"] == "2026-02-15T17:00:00+00:00"
    rows = body["rows"]
    assert all(set(row) == COLUMNS for row in rows)
    assert [(row["week"], row["slice"]) for row in rows if row["dimension"] == "all"] == [
        ("2026-W02", "all"),
        ("2026-W03", "all"),
    ]
    chat = next(row for row in rows if row["week"] == "2026-W02" and row["slice"] == "chat")
    assert chat["ql_to_qo"] == 1.0
    assert chat["ql_to_qo_interval"][1] == 1.0
    assert 0.2 < chat["ql_to_qo_interval"][0] < 0.21
    assert chat["qo_to_won"] is None
    assert chat["qo_to_won_interval"] is None
    everyone = rows[0]
    assert (everyone["qls"], everyone["ql_cohort_qo"], everyone["median_days_ql_to_qo"]) == (6, 4, 2.25)


def test_bad_parameters_are_named_in_a_400(analyst_api, db):
    response = analyst_api.get(URL, {"from": "2026-W60", "to": "last week", "dimension": "colour"})

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"from", "to", "dimension"}
    backwards = analyst_api.get(URL, {"from": "2026-W10", "to": "2026-W01"})
    assert backwards.status_code == 400
    assert "from" in backwards.json()["error"]["fields"]


def test_reports_need_an_analyst(make_user, db):
    assert APIClient().get(URL).status_code == 401
    assert api_as(make_user, "sales_rep").get(URL).status_code == 403
    assert api_as(make_user, "sales_rep").post(REFRESH_URL).status_code == 403


def test_the_csv_holds_the_same_rows_and_cannot_start_a_formula(analyst_api, built):
    WeeklyReportRow.objects.filter(dimension="sub_source", slice="google").update(slice='=HYPERLINK("x")')

    response = analyst_api.get(CSV_URL, {"from": "2026-W02", "to": "2026-W03", "dimension": "sub_source"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    as_json = analyst_api.get(URL, {"from": "2026-W02", "to": "2026-W03", "dimension": "sub_source"}).json()
    assert len(rows) == len(as_json["rows"])
    hyperlink = [row for row in rows if row["week"] == "2026-W02" and row["slice"].startswith("'=")]
    assert len(hyperlink) == 1
    assert hyperlink[0]["qls"] == "4"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    everyone = rows[0]
    assert float(everyone["ql_to_qo_low"]) == pytest.approx(wilson_interval(4, 6)[0])
    assert float(everyone["ql_to_qo_high"]) == pytest.approx(wilson_interval(4, 6)[1])
    assert everyone["median_days_ql_to_qo"] == "2.25"


def test_spreadsheet_safe_cells():
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("+1") == "'+1"
    assert spreadsheet_safe("-2") == "'-2"
    assert spreadsheet_safe("\t=1") == "'\t=1"
    assert spreadsheet_safe("google") == "google"
    assert spreadsheet_safe(None) == ""
    assert spreadsheet_safe(0.25) == "0.25"


def test_refresh_queues_a_job_after_commit_and_the_task_rebuilds(
    analyst_api, db, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.REPORT_TIME_ZONE = ZONE
    funnel_fixture.build()
    sent: list[tuple] = []
    monkeypatch.setattr(rebuild_weekly_report, "delay", lambda *args: sent.append(args))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = analyst_api.post(REFRESH_URL, {"from": "2026-W02", "to": "2026-W03"}, format="json")

    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job_id"])
    assert job.status == JobStatus.QUEUED
    assert response.json()["url"] == f"/api/v1/jobs/{job.pk}/"
    assert len(callbacks) == 1
    callbacks[0]()
    assert sent == [(job.pk, "2026-W02", "2026-W03")]

    assert rebuild_weekly_report(job.pk, "2026-W02", "2026-W03") > 0
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert (job.done, job.total, job.percent) == (5, 5, 100)
    assert WeeklyReportRow.objects.get(week=date(2026, 1, 5), dimension="all").qls == 6
    progress = analyst_api.get(response.json()["url"]).json()
    assert progress["status"] == "succeeded"


def test_the_report_endpoints_are_in_the_openapi_schema(analyst_api):
    schema = analyst_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    paths = schema.json()["paths"]
    weekly = paths["/api/v1/reports/weekly/"]["get"]
    assert {parameter["name"] for parameter in weekly["parameters"]} == {"from", "to", "dimension"}
    assert "/api/v1/reports/weekly.csv" in paths
    assert "202" in paths["/api/v1/reports/weekly/refresh/"]["post"]["responses"]
