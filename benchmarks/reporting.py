"""Weekly report at scale: rebuild 52 weeks for every dimension over 1M leads, 250k QL episodes,
60k opportunities and 10M activities (PostgreSQL), beside DuckDB running the same aggregation over
the same rows exported to Parquet; then the dashboard's server time answering from the snapshots.
"""

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from access.services import user_set_role
from reporting.choices import HISTOGRAM_BINS, PERCENTILES, Dimension
from reporting.selectors import report_time_zone
from reporting.services import weekly_report_rebuild
from reporting.stats import iso_week_label, week_monday

from .harness import Timings

LEADS = 1_000_000
EPISODES = 250_000
OPPORTUNITIES = 60_000
UNQUALIFIED = 5_000
ACTIVITIES = 10_000_000
ACTIVITY_CHUNK = 1_000_000
WEEKS = 52
DASHBOARD_REQUESTS = 100


def run() -> list[Timings]:
    if connection.vendor != "postgresql":
        print("skipped: the reporting benchmark generates its data with PostgreSQL's generate_series.")
        return []
    now = timezone.now()
    start = now - timedelta(days=WEEKS * 7 + 90)
    generate(start=start)
    last = week_monday(now, report_time_zone())
    first = last - timedelta(weeks=WEEKS - 1)

    rebuild = Timings(f"rebuild {WEEKS} weeks, all dims")
    for _ in range(2):
        with rebuild.measure():
            result = weekly_report_rebuild(first_monday=first, last_monday=last, as_of=now)
    print(f"rebuilt {result.weeks} weeks into {result.rows} snapshot rows (run twice: idempotent)")

    duck = Timings("duckdb same aggregation (parquet)")
    duckdb_seconds = duckdb_aggregate(first=first, last=last, as_of=now, timings=duck)
    if duckdb_seconds is not None:
        postgres_seconds = min(rebuild.seconds)
        print(
            f"PostgreSQL rebuild {postgres_seconds:.2f} s vs DuckDB {duckdb_seconds:.2f} s over Parquet: "
            f"ratio {postgres_seconds / duckdb_seconds:.1f}x"
        )
    dashboard = dashboard_timings(first=last - timedelta(weeks=11), last=last)
    return [rebuild, *([duck] if duck.seconds else []), dashboard]


def _filler(data_type: str) -> str:
    if data_type in ("jsonb", "json"):
        return "'{}'::jsonb"
    if data_type.startswith("timestamp"):
        return "now()"
    if data_type in ("integer", "bigint", "smallint", "double precision", "numeric", "real"):
        return "0"
    if data_type == "boolean":
        return "false"
    return "''"


def insert_select(table: str, given: dict[str, str], source: str) -> None:
    """``INSERT INTO table (...) SELECT ... FROM source``; every other NOT NULL column without a
    default gets an empty value of its type, so the generator survives new columns."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'",
            [table],
        )
        columns = dict(given)
        for name, data_type in cursor.fetchall():
            columns.setdefault(name, _filler(data_type))
        names = ", ".join(columns)
        values = ", ".join(columns.values())
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {source}")


@contextmanager
def step(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"  generated {label} in {time.perf_counter() - started:.1f} s")


def generate(*, start: datetime) -> None:
    """Set-based generation: deterministic, bounded, no Python loops over rows."""
    minutes = WEEKS * 7 * 24 * 60
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    origin = f"'{start.isoformat()}'::timestamptz"
    print(
        f"generating {LEADS:,} leads, {EPISODES:,} episodes, {OPPORTUNITIES:,} opportunities, {ACTIVITIES:,} activities"
    )
    with step("leads"):
        insert_select(
            "leads_lead",
            {
                "id": "g",
                "email": "'bench' || g || '@company' || (g % 50000) || '.example'",
                "source": "(ARRAY['inbound','chat','product','other'])[g % 4 + 1]",
                "sub_source": "'utm_' || (g % 12)",
                "stage": "'new'",
                "created_at": f"{origin} + (g % {minutes}) * interval '1 minute'",
                "updated_at": "now()",
            },
            f"generate_series(1, {LEADS}) AS g",
        )
    with step("episodes"):
        # Episode g belongs to lead 4g; its QL moment is spread over the 52 weeks by a multiplicative hash.
        insert_select(
            "leads_qualification",
            {
                "id": "g",
                "lead_id": "4 * g",
                "qualified_at": f"{origin} + ((g * 7919) % {minutes}) * interval '1 minute'",
                "stage": "CASE WHEN g % 5 = 0 THEN 'recycled' ELSE 'open' END",
                "ended_at": f"CASE WHEN g % 5 = 0 THEN {origin} + ((g * 7919) % {minutes}) * interval '1 minute'"
                " + interval '30 days' END",
                "source": "(ARRAY['inbound','chat','product','other'])[g % 4 + 1]",
                "sub_source": "'utm_' || (g % 12)",
                "bucket": "(ARRAY['P1','P2','P3'])[g % 3 + 1]",
                "explanation": "'{}'::jsonb",
                "recorded_at": "now()",
            },
            f"generate_series(1, {EPISODES}) AS g",
        )
    qualified = OPPORTUNITIES - UNQUALIFIED
    with step("opportunities"):
        # Opportunity g (g <= 55,000) is booked in episode 4g - 3 (never a recycled one: 4g - 3 is not a
        # multiple of 5 only when g mod 5 != 2; those take episode 4g - 2). The rest are unqualified.
        stage = (
            "(ARRAY['open','open','open','qualified','qualified','won','won','lost','lost','disqualified'])[g % 10 + 1]"
        )
        booked = "e.qualified_at + (g % 72) * interval '1 hour'"
        qo = f"{booked} + (g % 20 + 1) * interval '1 day'"
        insert_select(
            "opportunities_opportunity",
            {
                "lead_id": "e.lead_id",
                "qualification_id": "e.id",
                "stage": stage,
                "created_at": booked,
                "qualified_at": f"CASE WHEN g % 10 BETWEEN 3 AND 8 THEN {qo} END",
                "closed_at": f"CASE WHEN g % 10 BETWEEN 5 AND 8 THEN {qo} + (g % 60) * interval '1 day' "
                f"WHEN g % 10 = 9 THEN {booked} + interval '3 days' END",
                "source_system": "'bench'",
                "external_id": "'o' || g",
                "reason_note": "''",
                "recorded_at": "now()",
            },
            f"generate_series(1, {qualified}) AS g JOIN leads_qualification e "
            "ON e.id = CASE WHEN (4 * g - 3) % 5 = 0 THEN 4 * g - 2 ELSE 4 * g - 3 END",
        )
        unqualified_booked = f"{origin} + ((g * 104729) % {minutes}) * interval '1 minute'"
        insert_select(
            "opportunities_opportunity",
            {
                "lead_id": "4 * g + 1",
                "stage": "(ARRAY['open','qualified','won','lost','disqualified'])[g % 5 + 1]",
                "created_at": unqualified_booked,
                "qualified_at": f"CASE WHEN g % 5 BETWEEN 1 AND 3 THEN {unqualified_booked} + interval '5 days' END",
                "closed_at": f"CASE WHEN g % 5 BETWEEN 2 AND 3 THEN {unqualified_booked} + interval '25 days' "
                f"WHEN g % 5 = 4 THEN {unqualified_booked} + interval '2 days' END",
                "source_system": "'bench'",
                "external_id": "'u' || g",
                "reason_note": "''",
                "recorded_at": "now()",
            },
            f"generate_series(1, {UNQUALIFIED}) AS g",
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE leads_qualification e SET stage = o.stage, ended_at = o.closed_at "
                "FROM opportunities_opportunity o WHERE o.qualification_id = e.id "
                "AND o.stage IN ('won', 'lost', 'disqualified')"
            )
    with step("activities"):
        for offset in range(0, ACTIVITIES, ACTIVITY_CHUNK):
            insert_select(
                "leads_activity",
                {
                    "lead_id": f"g % {LEADS} + 1",
                    "kind": "(ARRAY['form','chat','product','meeting','other'])[g % 5 + 1]",
                    "name": "'Pricing Page Viewed'",
                    "properties": "'{}'::jsonb",
                    "occurred_at": f"{origin} + (g % {minutes}) * interval '1 minute'",
                    "source_system": "'bench'",
                    "external_id": "g::text",
                    "recorded_at": "now()",
                },
                f"generate_series({offset + 1}, {min(offset + ACTIVITY_CHUNK, ACTIVITIES)}) AS g",
            )
    with step("statistics"), connection.cursor() as cursor:
        for table in ("leads_lead", "leads_qualification", "opportunities_opportunity", "leads_activity"):
            cursor.execute(f"ANALYZE {table}")


EXPORTS = {
    "leads": "SELECT id, source, sub_source FROM leads_lead",
    "episodes": "SELECT id, lead_id, qualified_at AT TIME ZONE 'UTC' AS qualified_at, "
    "ended_at AT TIME ZONE 'UTC' AS ended_at, source, sub_source, bucket FROM leads_qualification",
    "opportunities": "SELECT id, lead_id, qualification_id, stage, created_at AT TIME ZONE 'UTC' AS created_at, "
    "qualified_at AT TIME ZONE 'UTC' AS qualified_at, closed_at AT TIME ZONE 'UTC' AS closed_at "
    "FROM opportunities_opportunity",
}


def _duckdb_queries(dimension: str, start: str, end: str, as_of: str) -> list[str]:
    week = "date_trunc('week', {column})"
    episode_slice = "'all'" if dimension == Dimension.ALL else f"e.{dimension}"
    if dimension == Dimension.ALL:
        opportunity_slice = "'all'"
    elif dimension == Dimension.BUCKET:
        opportunity_slice = "CASE WHEN e.id IS NULL THEN 'unqualified' ELSE e.bucket END"
    else:
        opportunity_slice = f"CASE WHEN e.id IS NULL THEN l.{dimension} ELSE e.{dimension} END"
    opportunities = "opportunities o LEFT JOIN episodes e ON e.id = o.qualification_id JOIN leads l ON l.id = o.lead_id"

    def within(column: str) -> str:
        return f"{column} >= TIMESTAMP '{start}' AND {column} < TIMESTAMP '{end}' AND {column} <= TIMESTAMP '{as_of}'"

    quantiles = ", ".join(str(percent / 100) for percent in PERCENTILES)
    bins = ", ".join(
        f"count(*) FILTER (WHERE days >= {low}" + (f" AND days < {high})" if high is not None else ")")
        for low, high in HISTOGRAM_BINS
    )
    return [
        f"SELECT {week.format(column='e.qualified_at')} AS w, {episode_slice} AS s, count(*), "
        f"count(*) FILTER (WHERE o.qualified_at <= TIMESTAMP '{as_of}'), "
        f"count(*) FILTER (WHERE o.stage = 'won' AND o.closed_at <= TIMESTAMP '{as_of}'), "
        f"count(*) FILTER (WHERE e.ended_at IS NULL OR e.ended_at > TIMESTAMP '{as_of}') "
        f"FROM episodes e LEFT JOIN opportunities o ON o.qualification_id = e.id "
        f"WHERE {within('e.qualified_at')} GROUP BY ALL",
        f"SELECT {week.format(column='o.created_at')} AS w, {opportunity_slice} AS s, count(*) FROM {opportunities} "
        f"WHERE {within('o.created_at')} GROUP BY ALL",
        f"SELECT {week.format(column='o.qualified_at')} AS w, {opportunity_slice} AS s, count(*), "
        f"count(*) FILTER (WHERE o.stage = 'won' AND o.closed_at <= TIMESTAMP '{as_of}'), "
        f"count(*) FILTER (WHERE o.closed_at IS NULL OR o.closed_at > TIMESTAMP '{as_of}') "
        f"FROM {opportunities} WHERE {within('o.qualified_at')} GROUP BY ALL",
        f"SELECT {week.format(column='o.closed_at')} AS w, {opportunity_slice} AS s, "
        f"count(*) FILTER (WHERE o.stage = 'won') FROM {opportunities} WHERE {within('o.closed_at')} GROUP BY ALL",
        f"SELECT w, s, quantile_cont(days, [{quantiles}]), {bins} FROM ("
        f"SELECT {week.format(column='e.qualified_at')} AS w, {episode_slice} AS s, "
        f"epoch(o.qualified_at - e.qualified_at) / 86400.0 AS days "
        f"FROM episodes e JOIN opportunities o ON o.qualification_id = e.id "
        f"WHERE o.qualified_at <= TIMESTAMP '{as_of}' AND {within('e.qualified_at')}) GROUP BY ALL",
        f"SELECT w, s, quantile_cont(days, [{quantiles}]), {bins} FROM ("
        f"SELECT {week.format(column='o.qualified_at')} AS w, {opportunity_slice} AS s, "
        f"epoch(o.closed_at - o.qualified_at) / 86400.0 AS days FROM {opportunities} "
        f"WHERE o.stage = 'won' AND o.closed_at <= TIMESTAMP '{as_of}' AND {within('o.qualified_at')}) GROUP BY ALL",
    ]


def duckdb_aggregate(*, first: date, last: date, as_of: datetime, timings: Timings) -> float | None:
    """Export the rows to Parquet, then time DuckDB computing every column for every dimension."""
    try:
        import duckdb
    except ImportError:
        print("skipped DuckDB: pip install -r requirements-dev.txt")
        return None
    tz = report_time_zone()
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz).astimezone(tz).replace(tzinfo=None)
    end = start + timedelta(weeks=(last - first).days // 7 + 1)
    as_of_text = as_of.astimezone(tz).replace(tzinfo=None).isoformat(sep=" ")
    with tempfile.TemporaryDirectory() as folder:
        database = duckdb.connect()
        for name, query in EXPORTS.items():
            path = Path(folder) / f"{name}.csv"
            with path.open("w", newline="") as handle, connection.cursor() as cursor:
                cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH CSV HEADER", handle)
            database.execute(
                f"COPY (SELECT * FROM read_csv('{path}', header = true)) TO '{Path(folder) / name}.parquet' "
                "(FORMAT parquet)"
            )
        for name in EXPORTS:
            database.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{Path(folder) / name}.parquet')")
        total_rows = 0
        for _ in range(2):
            with timings.measure():
                for dimension in Dimension.values:
                    for query in _duckdb_queries(dimension, str(start), str(end), as_of_text):
                        total_rows += len(database.execute(query).fetchall())
        database.close()
    print(f"DuckDB answered {total_rows // 2} grouped rows per run")
    if tz.key != "UTC":
        print("note: the DuckDB side truncates weeks in UTC; set REPORT_TIME_ZONE=UTC for an exact match.")
    return min(timings.seconds)


def dashboard_timings(*, first: date, last: date) -> Timings:
    user, _ = user_set_role(username="bench-analyst", role="analyst", password="a-long-bench-password")
    client = Client()
    client.force_login(user)
    url = reverse("reporting:dashboard")
    query = {"from": iso_week_label(first), "to": iso_week_label(last), "dimension": "sub_source"}
    timings = Timings(f"dashboard GET x{DASHBOARD_REQUESTS}")
    for _ in range(DASHBOARD_REQUESTS):
        with timings.measure():
            response = client.get(url, query, HTTP_HOST="localhost")
        assert response.status_code == 200, response.status_code
    return timings
