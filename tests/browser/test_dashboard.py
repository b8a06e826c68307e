import csv
import io
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from leads.models import Lead, Qualification
from opportunities.models import Opportunity
from reporting.services import weekly_report_rebuild

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-browser-password"
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def lead(email: str, source: str, sub_source: str) -> Lead:
    return Lead.objects.create(email=email, source=source, sub_source=sub_source, created_at=at(1))


@pytest.fixture
def report():
    """Rows written directly: a live-server test's database is flushed with DELETE, which the
    append-only transition log refuses on SQLite, so nothing here goes through the services."""
    won = Qualification.objects.create(
        lead=lead("won@acme.example", "inbound", "google"),
        qualified_at=at(5),
        ended_at=at(9),
        stage="won",
        source="inbound",
        sub_source="google",
        bucket="P1",
    )
    Opportunity.objects.create(
        lead=won.lead, qualification=won, stage="won", created_at=at(6), qualified_at=at(7), closed_at=at(9)
    )
    Qualification.objects.create(
        lead=lead("open@acme.example", "inbound", "google"),
        qualified_at=at(6),
        source="inbound",
        sub_source="google",
        bucket="P1",
    )
    lost = Qualification.objects.create(
        lead=lead("lost@chatty.example", "chat", "intercom"),
        qualified_at=at(7),
        ended_at=at(12),
        stage="lost",
        source="chat",
        sub_source="intercom",
        bucket="P2",
    )
    Opportunity.objects.create(
        lead=lost.lead, qualification=lost, stage="lost", created_at=at(7), qualified_at=at(8), closed_at=at(12)
    )
    Opportunity.objects.create(lead=lead("walk-in@newco.example", "other", "partner"), created_at=at(8))
    weekly_report_rebuild(first_monday=date(2025, 12, 1), last_monday=date(2026, 2, 9), as_of=at(31))


def test_an_analyst_switches_dimension_drills_into_a_cell_and_downloads_the_csv(page, log_in, make_user, report):
    make_user("analyst", role="analyst", password=PASSWORD)
    log_in("analyst", PASSWORD)
    page.wait_for_url("**/dashboard/")

    page.goto("/dashboard/?from=2025-W49&to=2026-W07&week=2026-W02&dimension=source")
    assert page.get_by_role("heading", name="By source").is_visible()
    tiles = page.locator(".tile__value")
    assert tiles.first.inner_text() == "3"
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "dashboard.png"), full_page=True)

    page.get_by_label("Break down by").select_option("bucket")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**dimension=bucket**")
    breakdown = page.get_by_role("table", name="Week 2026-W02 by bucket")
    assert breakdown.get_by_role("rowheader", name="unqualified").is_visible()

    p1 = breakdown.get_by_role("row").filter(has=page.get_by_role("rowheader", name="P1"))
    p1.get_by_role("link").first.click()
    page.wait_for_url("**/dashboard/cells/**")
    assert page.get_by_role("heading", level=1).inner_text().startswith("QLs")
    emails = page.locator("tbody tr td:first-child").all_inner_texts()
    assert sorted(emails) == ["open@acme.example", "won@acme.example"]
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "drilldown.png"), full_page=True)

    page.go_back()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == "weekly-report-bucket-2025-W49-2026-W07.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    w02 = {row["slice"]: row for row in rows if row["week"] == "2026-W02"}
    assert (w02["all"]["qls"], w02["all"]["ql_cohort_qo"], w02["all"]["won"]) == ("3", "2", "1")
    assert (w02["P1"]["qls"], w02["P2"]["qls"]) == ("2", "1")
    assert w02["unqualified"]["opportunities"] == "1"
