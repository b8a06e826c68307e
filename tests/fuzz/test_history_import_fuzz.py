"""The history importer under hostile files: it never crashes, names each bad row's line, loses no valid
row, and importing the same file again changes nothing."""

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from hypothesis import example, given
from hypothesis import strategies as st

from integrations.history import COLUMNS
from integrations.models import ImportRun
from integrations.services import history_import_file, import_run_execute
from leads.models import Lead, Qualification, StageTransition
from opportunities.models import Opportunity

from .conftest import FUZZ_SETTINGS, rolled_back

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

DAY_ONE = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
# Cells that spreadsheets evaluate, that break naive parsers, or that are just wrong.
NASTY_CELLS = (
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1:A2)",
    '=HYPERLINK("http://evil.example","x")',
    "2025-02-30",
    "yesterday",
    "2025-13-01T00:00:00",
    "1e400",
    "-5",
    "99999999999999999999999999",
    "NaN",
    "x" * 5000,
    "1" * 30,
    "\x00",
    "ada@",
    "\ufeffemail",
    "a,b",
    'say "hi"',
    "line\nbreak",
)
# A bare carriage return ends a line for the reader but not for this test's line count; surrogates are not UTF-8.
characters = st.characters(exclude_characters="\r", exclude_categories=["Cs"])
cells = st.sampled_from(NASTY_CELLS) | st.text(characters, max_size=40)
moments = st.integers(0, 400).map(lambda days: DAY_ONE + timedelta(days=days, hours=days % 7))
moment_texts = moments.map(lambda moment: moment.isoformat()) | moments.map(lambda moment: moment.date().isoformat())


@dataclass
class ValidRow:
    values: dict[str, str]

    @property
    def email(self) -> str:
        return self.values["email"]


@st.composite
def valid_rows(draw: st.DrawFn) -> ValidRow:
    """A readable row: unique e-mail, milestones in any order (lifted, with a warning), harmless oddities."""
    values = {
        "email": f"lead-{draw(st.uuids())}@fuzz.example",
        "first_name": draw(
            st.sampled_from(("=1+1", "@Ada", "Zoë", "李", "a\u2028b", "\x00", "")) | st.text(characters, max_size=30)
        ),
        "source": draw(st.sampled_from(("", "inbound", "product", "chat"))),
        "created_at": draw(moment_texts),
    }
    for milestone in ("qualified_at", "opportunity_at", "qo_at"):
        if draw(st.booleans()):
            values[milestone] = draw(moment_texts)
    outcome = draw(st.sampled_from(("", "won_at", "lost_at", "disqualified_at")))
    if outcome == "disqualified_at":
        values.pop("qo_at", None)
    if outcome:
        values[outcome] = draw(moment_texts)
    if outcome == "won_at" and draw(st.booleans()):
        values["amount"] = str(draw(st.decimals(min_value=0, max_value=10**9, places=2)))
    return ValidRow(values)


@st.composite
def tampered_rows(draw: st.DrawFn) -> dict[str, str]:
    """A valid row with one cell made nasty: it imports, or it is reported."""
    values = dict(draw(valid_rows()).values)
    values[draw(st.sampled_from(COLUMNS))] = draw(cells)
    return values


junk_rows = (
    tampered_rows()
    | st.dictionaries(st.sampled_from(COLUMNS), cells, min_size=1)
    | st.lists(cells, min_size=1, max_size=30)
)


def write_csv(header: list[str], rows: list[ValidRow | dict[str, str] | list[str]]) -> tuple[str, dict[int, Any]]:
    """The CSV text and the row written at each starting line (quoted cells may span lines)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    starts: dict[int, Any] = {}
    for row in rows:
        starts[buffer.getvalue().count("\n") + 1] = row
        if isinstance(row, list):
            writer.writerow(row)
        else:
            values = row.values if isinstance(row, ValidRow) else row
            writer.writerow([values.get(column, "") for column in header])
    return buffer.getvalue(), starts


@st.composite
def hostile_files(draw: st.DrawFn) -> tuple[str, dict[int, Any]]:
    """Valid rows (some twice) among junk rows, under a header with the columns shuffled, some missing, some extra."""
    needed = ["email", "first_name", "source", *[column for column in COLUMNS if column.endswith("_at")], "amount"]
    others = draw(st.lists(st.sampled_from([*COLUMNS, "notes", "Email ", ""]), max_size=5))
    header = draw(st.permutations(list(dict.fromkeys(needed + others))))
    valid = draw(st.lists(valid_rows(), max_size=6))
    duplicates = draw(st.lists(st.sampled_from(valid), max_size=2)) if valid else []
    junk = draw(st.lists(junk_rows, max_size=6))
    rows: list[ValidRow | dict[str, str] | list[str]] = [*valid, *duplicates, *junk]
    return write_csv(header, draw(st.permutations(rows)))


def snapshot() -> tuple[list[Any], ...]:
    return (
        list(Lead.objects.order_by("pk").values()),
        list(Qualification.objects.order_by("pk").values()),
        list(Opportunity.objects.order_by("pk").values()),
        list(StageTransition.objects.order_by("pk").values_list("pk", flat=True)),
    )


@FUZZ_SETTINGS
@given(file=hostile_files())
def test_valid_rows_import_once_and_bad_rows_are_reported_by_line(file):
    text, starts = file
    valid = {line: row for line, row in starts.items() if isinstance(row, ValidRow)}

    with rolled_back():
        report = history_import_file(lines=io.StringIO(text, newline=""), name="fuzz.csv")

        for line, message in report.errors:
            assert line in starts, (line, message)
            assert not isinstance(starts[line], ValidRow), (line, message)
            assert message.strip()
        assert report.imported >= len(valid)
        for row in valid.values():
            assert Lead.objects.filter(email=row.email).exists(), row
        before = snapshot()
        again = history_import_file(lines=io.StringIO(text, newline=""), name="fuzz.csv")
        assert snapshot() == before
        assert again.errors == report.errors


@FUZZ_SETTINGS
@given(file=hostile_files())
def test_an_upload_reports_what_the_command_reports(client, make_user, file):
    text, _ = file
    client.force_login(make_user("fuzz-admin", "revops_admin"))
    with rolled_back():
        report = history_import_file(lines=io.StringIO(text, newline=""), name="fuzz.csv")
    with rolled_back():
        client.post("/integrations/import/", {"file": SimpleUploadedFile("fuzz.csv", text.encode())})
        run = ImportRun.objects.latest("pk")
        imported = import_run_execute(run_id=run.pk)
        issues = sorted(run.issues.filter(level="error").values_list("line", "message"))

    assert (imported, issues) == (report.imported, sorted((line, text[:500]) for line, text in report.errors))


@FUZZ_SETTINGS
@given(content=st.binary(max_size=3000) | st.text(max_size=2000).map(lambda text: text.encode("utf-16")))
@example(content=b"email\n" + b"x" * 200_000 + b"@fuzz.example\n")
@example(content=b"email,first_name\nada@fuzz.example,\x00\n")
@example(content="email\nzoë@fuzz.example\n".encode("latin-1"))
def test_any_file_is_imported_or_refused_with_a_message(tmp_path, content):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    with rolled_back():
        summary = io.StringIO()
        try:
            call_command("import_history", str(path), stdout=summary, stderr=io.StringIO())
        except CommandError as error:
            outcome = str(error)
        else:
            outcome = summary.getvalue()
    assert "is not UTF-8 text" in outcome or "Imported " in outcome


@FUZZ_SETTINGS
@given(content=st.binary(max_size=2000) | st.sampled_from([b"\xef\xbb\xbfemail\nada@fuzz.example\n", b"\xff\xfe"]))
def test_the_upload_page_accepts_or_refuses_any_file_without_crashing(client, make_user, content):
    client.force_login(make_user("fuzz-admin", "revops_admin"))

    with rolled_back():
        response = client.post("/integrations/import/", {"file": SimpleUploadedFile("x.csv", content)})

        assert response.status_code in (200, 302)
        if response.status_code == 302:
            import_run_execute(run_id=ImportRun.objects.latest("pk").pk)
