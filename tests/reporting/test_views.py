from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from jobs.models import Job, JobStatus
from reporting.models import WeeklyReportRow
from reporting.services import weekly_report_rebuild
from reporting.tasks import rebuild_weekly_report

from . import funnel_fixture
from .funnel_fixture import AS_OF, ZONE

PASSWORD = "a-long-test-password"
URL = reverse("reporting:dashboard")
W01, W02, W03, W06 = date(2025, 12, 29), date(2026, 1, 5), date(2026, 1, 12), date(2026, 2, 2)
RANGE = {"from": "2026-W01", "to": "2026-W06", "week": "2026-W02", "dimension": "source"}


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def links(response) -> list[str]:
    parser = Links()
    parser.feed(response.content.decode())
    return parser.hrefs


@pytest.fixture
def analyst_client(client, make_user):
    make_user(username="analyst", role="analyst")
    assert client.login(username="analyst", password=PASSWORD)
    return client


@pytest.fixture
def built(db, settings):
    settings.REPORT_TIME_ZONE = ZONE
    funnel_fixture.build()
    weekly_report_rebuild(first_monday=W01 - (W02 - W01) * 4, last_monday=W06, as_of=AS_OF)


def test_the_dashboard_shows_the_selected_week_against_the_prior_four(analyst_client, built):
    response = analyst_client.get(URL, RANGE)

    assert response.status_code == 200
    tiles = {tile.label: tile for tile in response.context["tiles"]}
    assert [
        tiles[name].value for name in ("Qualified leads", "Opportunities", "Qualified opportunities", "Closed won")
    ] == [
        "6",
        "5",
        "4",
        "1",
    ]
    assert tiles["QL → QO"].value == "66.7%"
    assert tiles["QO → Won"].value == "75.0%"
    assert tiles["Qualified leads"].comparison == "Up from 0 (4-week average)"
    assert tiles["QL → QO"].comparison == "No earlier weeks to compare"
    assert "n < 20" in tiles["QL → QO"].flags
    content = response.content.decode()
    assert "Week 2026-W02" in content
    assert "as of" in content.lower()


def test_switching_the_dimension_changes_the_breakdown(analyst_client, built):
    by_source = analyst_client.get(URL, RANGE).context["breakdown"]
    by_bucket = analyst_client.get(URL, {**RANGE, "dimension": "bucket"}).context["breakdown"]

    assert [row.label for row in by_source] == ["chat", "inbound", "other", "product"]
    assert [row.label for row in by_bucket] == ["P1", "P2", "P3", "unqualified"]
    inbound = by_source[1]
    assert [cell.text for cell in inbound.cells] == ["5", "4", "3", "1", "3", "2", "2"]
    assert inbound.ql_to_qo.text == "60.0%"
    assert inbound.median_qo_to_won == "2.5 d"
    assert inbound.ql_open_share == "20%"


def test_every_number_drills_down_to_the_records_behind_it(analyst_client, built):
    response = analyst_client.get(URL, RANGE)
    inbound = response.context["breakdown"][1]
    qls_href = inbound.cells[0].href
    assert parse_qs(urlparse(qls_href).query) == {
        "week": ["2026-W02"],
        "dimension": ["source"],
        "slice": ["inbound"],
        "column": ["qls"],
    }
    assert qls_href in links(response)

    episodes = analyst_client.get(qls_href)
    assert episodes.status_code == 200
    emails = sorted(row.lead.email for row in episodes.context["page"].object_list)
    assert emails == ["a@acme.example", "b@acme.example", "d@delta.example", "f@foxtrot.example", "g@golf.example"]

    won_cohort = analyst_client.get(inbound.cells[6].href)
    assert sorted(row.lead.email for row in won_cohort.context["page"].object_list) == [
        "a@acme.example",
        "b@acme.example",
    ]

    unqualified = response.context["breakdown"][2]
    opportunities = analyst_client.get(unqualified.cells[1].href)
    assert [row.lead.email for row in opportunities.context["page"].object_list] == ["e@walkin.example"]
    assert "unqualified" in opportunities.content.decode()


def test_every_drill_down_lists_exactly_as_many_records_as_its_number(analyst_client, built):
    response = analyst_client.get(URL, RANGE)
    cells = [cell for row in response.context["breakdown"] for cell in row.cells]
    cells += [cell for line in response.context["week_lines"] for cell in line.cells]
    for cell in cells:
        listed = analyst_client.get(cell.href).context["page"].paginator.count
        assert listed == int(cell.text), cell.href


def test_trend_charts_band_the_interval_and_mark_small_samples(analyst_client, built):
    response = analyst_client.get(URL, RANGE)

    ql_chart = response.context["trend_charts"][0]
    assert len(ql_chart.points) == 2
    assert all(point["small"] for point in ql_chart.points)
    assert len(ql_chart.bands) == 1
    content = response.content.decode()
    assert "<svg" in content
    assert "2026-W02: 66.7% (4 of 6)" in content
    volume = response.context["volume_chart"]
    assert {label for label, _ in volume.legend} == {"chat", "inbound", "other", "product"}
    assert sum(1 for bar in volume.bars if "2026-W02" in bar["title"]) == 2


def test_the_distribution_of_the_selected_week(analyst_client, built):
    distributions = analyst_client.get(URL, RANGE).context["distributions"]

    ql_to_qo = distributions[0]
    assert ql_to_qo.count == 4
    assert dict(ql_to_qo.percentiles)["p50"] == "2.2 d"
    assert [count for _, count, _ in ql_to_qo.bins][:3] == [0, 3, 1]


def test_filters_live_in_the_url_and_bad_ones_fall_back(analyst_client, built):
    response = analyst_client.get(URL, {**RANGE, "from": "2026-W09"})

    assert response.status_code == 200
    assert "must not come after" in response.content.decode()
    assert response.context["filters"]["dimension"] == "source"
    csv_href = response.context["csv_href"]
    assert csv_href.startswith("/api/v1/reports/weekly.csv?")


def test_immature_cohorts_are_marked(analyst_client, db, settings):
    settings.REPORT_TIME_ZONE = ZONE
    funnel_fixture.build()
    # As of Monday 12 January, W02 ended hours ago: younger than its own 2.25-day median to QO.
    weekly_report_rebuild(first_monday=W02, last_monday=W02, as_of=funnel_fixture.ny(12, 12))

    response = analyst_client.get(URL, {"from": "2026-W02", "to": "2026-W02", "dimension": "source"})

    tiles = {tile.label: tile for tile in response.context["tiles"]}
    assert "immature" in tiles["QL → QO"].flags
    assert response.context["trend_charts"][0].points[0]["immature"]


def test_an_unbuilt_range_says_so(analyst_client):
    response = analyst_client.get(URL)

    assert "No report built for these weeks yet" in response.content.decode()


def test_the_refresh_button_queues_a_rebuild_and_shows_its_progress(
    analyst_client, db, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.REPORT_TIME_ZONE = ZONE
    funnel_fixture.build()
    sent: list[tuple] = []
    monkeypatch.setattr(rebuild_weekly_report, "delay", lambda *args: sent.append(args))

    with django_capture_on_commit_callbacks(execute=True):
        response = analyst_client.post(reverse("reporting:refresh"), {"from": "2026-W02", "to": "2026-W03"})

    job = Job.objects.get()
    assert response.status_code == 302
    assert f"job={job.pk}" in response["Location"]
    assert sent == [(job.pk, "2026-W02", "2026-W03")]
    queued = analyst_client.get(response["Location"])
    assert "Rebuild queued" in queued.content.decode()
    rebuild_weekly_report(*sent[0])
    done = analyst_client.get(response["Location"])
    assert Job.objects.get().status == JobStatus.SUCCEEDED
    assert "Rebuild succeeded" in done.content.decode()
    assert WeeklyReportRow.objects.filter(dimension="all").count() == 2


def test_reports_are_for_analysts(client, make_user, db):
    assert client.get(URL).status_code == 302
    make_user(username="rep", role="sales_rep")
    client.login(username="rep", password=PASSWORD)
    assert client.get(URL).status_code == 403
    assert client.post(reverse("reporting:refresh")).status_code == 403
    assert (
        client.get(
            reverse("reporting:drilldown"), {"week": "2026-W02", "dimension": "all", "slice": "all", "column": "qls"}
        ).status_code
        == 403
    )


def test_unknown_cells_are_not_found(analyst_client):
    drill = reverse("reporting:drilldown")
    assert (
        analyst_client.get(drill, {"week": "2026-W99", "dimension": "all", "slice": "all", "column": "qls"}).status_code
        == 404
    )
    assert (
        analyst_client.get(
            drill, {"week": "2026-W02", "dimension": "all", "slice": "all", "column": "amount"}
        ).status_code
        == 404
    )


def test_the_dashboard_takes_a_fixed_number_of_queries(analyst_client, built, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        analyst_client.get(URL, {**RANGE, "from": "2025-W40"})
