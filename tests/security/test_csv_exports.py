"""CSV exports cannot smuggle a formula into a spreadsheet (OWASP "CSV injection").

The weekly report is the only CSV export; a page or endpoint that starts answering CSV fails
``test_the_weekly_report_is_the_only_csv_export`` until it is tested here. Its text cells that
come from outside are the slices: a lead's sub-source (UTM values, form fields) and an episode's
bucket (imported history names any bucket). The source is one of a fixed list.
"""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.test import Client

from leads.services import lead_upsert, qualification_open
from reporting.services import weekly_report_rebuild
from tests.funnel_helpers import SYSTEM
from tests.security.objects import World
from tests.security.test_role_matrix import MATRIX, ROLES

CSV_EXPORTS = {"api/v1/reports/weekly.csv"}
QUALIFIED_AT = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # ISO week 2026-W10
WEEK = "2026-W10"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
]


def qualify(email: str, *, sub_source: str, bucket: str) -> None:
    lead, _ = lead_upsert(email=email, source="inbound", sub_source=sub_source)
    qualification_open(
        lead_id=lead.pk,
        qualified_at=QUALIFIED_AT,
        source=lead.source,
        sub_source=lead.sub_source,
        bucket=bucket,
        actor=SYSTEM,
    )


@pytest.fixture
def hostile_report(db):
    for number, value in enumerate(HOSTILE):
        qualify(f"lead{number}@acme.example", sub_source=value, bucket=value[:20])
    monday = QUALIFIED_AT.date().replace(day=2)
    weekly_report_rebuild(first_monday=monday, last_monday=monday)


def export(client: Client, dimension: str) -> list[dict[str, str]]:
    response = client.get("/api/v1/reports/weekly.csv", {"from": WEEK, "to": WEEK, "dimension": dimension})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode(), newline="")))


@pytest.fixture
def analyst(make_user) -> Client:
    client = Client()
    client.force_login(make_user("ana", role="analyst"))
    return client


@pytest.mark.parametrize(("dimension", "cut"), [("sub_source", None), ("bucket", 20)])
def test_hostile_slices_are_exported_as_text(hostile_report, analyst, dimension, cut):
    rows = export(analyst, dimension)

    slices = {row["slice"] for row in rows}
    assert {"'" + value[:cut] for value in HOSTILE} <= slices
    unsafe = [cell for row in rows for cell in row.values() if cell.startswith(FORMULA_STARTS)]
    assert unsafe == []


def test_the_weekly_report_is_the_only_csv_export(world: World, make_user):
    admin = Client()
    admin.force_login(make_user("boss", role="revops_admin"))
    readable = [
        route
        for (method, route), expected in MATRIX.items()
        if method == "GET" and expected[ROLES.index("revops_admin")] == 200
    ]

    csv_routes = {route for route in readable if is_csv(admin.get(world.path(route)))}

    assert csv_routes == CSV_EXPORTS


def is_csv(response) -> bool:
    content_type = response.get("Content-Type", "")
    return content_type.startswith("text/csv") or "attachment" in response.get("Content-Disposition", "")
