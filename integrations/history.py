"""History import (docs/api.md, "History import"): one CSV row per lead, written through the services.

Rows are read into milestones, made monotonic (a milestone earlier than the one before it takes
that one's time, with a warning), then applied through the same services as live traffic, with an
import actor and backdated times. Every step first checks whether it already happened, so
importing the same file twice changes nothing.
"""

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DatabaseError, transaction

from access.parsers import without_nul
from leads.choices import Source
from leads.errors import FunnelError
from leads.services import CompanyData, lead_upsert, qualification_open
from leads.transitions import Actor
from opportunities.choices import OpportunityStage
from opportunities.models import Opportunity
from opportunities.services import (
    meeting_book,
    opportunity_disqualify,
    opportunity_lose,
    opportunity_qualify,
    opportunity_win,
)

from .parsing import MAX_EMPLOYEE_COUNT, parse_email

IMPORT_SOURCE_SYSTEM = "import"
CHUNK_ROWS = 250
MILESTONES = ("created_at", "qualified_at", "opportunity_at", "qo_at", "closed_at")
OUTCOMES = {
    "won_at": OpportunityStage.WON,
    "lost_at": OpportunityStage.LOST,
    "disqualified_at": OpportunityStage.DISQUALIFIED,
}
COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "title",
    "company_domain",
    "company_name",
    "employee_count",
    "industry",
    "country",
    "source",
    "sub_source",
    "bucket",
    "created_at",
    "qualified_at",
    "opportunity_at",
    "qo_at",
    "won_at",
    "lost_at",
    "disqualified_at",
    "amount",
    "reason",
)

# The widths of the columns the values are stored in.
MAX_LENGTHS = {
    "first_name": 150,
    "last_name": 150,
    "title": 255,
    "company_domain": 253,
    "company_name": 255,
    "industry": 100,
    "sub_source": 255,
    "bucket": 50,
}
MAX_AMOUNT = Decimal(10) ** 12  # Opportunity.amount: 14 digits, 2 of them decimals


class RowError(ValueError):
    """A row that cannot be read."""


@dataclass
class HistoryRow:
    line: int
    email: str
    lead: dict[str, Any]
    company: CompanyData | None
    source: str | None
    sub_source: str | None
    bucket: str
    milestones: dict[str, datetime | None]
    outcome: str | None
    amount: Decimal | None
    reason: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    imported: int = 0
    warnings: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def parse_moment(value: str, *, column: str) -> datetime | None:
    """ISO 8601 timestamp or date; without an offset it is read in REPORT_TIME_ZONE, a date is midnight."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"{column}: '{value}' is not a date.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(settings.REPORT_TIME_ZONE))
    return moment


def read_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
    """(line number, row, problem) for each CSV record; the header is line 1."""
    reader = csv.DictReader(lines)
    try:
        header = reader.fieldnames or []
    except csv.Error as error:
        yield 1, None, f"The header cannot be read: {error}."
        return
    if "email" not in header:
        yield 1, None, "The file has no 'email' column."
        return
    line = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # e.g. a field beyond csv.field_size_limit(); the reader goes on after it
            start, line = line + 1, reader.line_num
            yield start, None, f"The row cannot be read: {error}."
            continue
        start, line = line + 1, reader.line_num
        if None in record:
            yield start, None, "The row has more values than the header has columns."
            continue
        yield start, {key: without_nul((value or "").strip()) for key, value in record.items()}, None


def _check_lengths(record: dict[str, str]) -> None:
    for column, limit in MAX_LENGTHS.items():
        if len(record.get(column) or "") > limit:
            raise RowError(f"{column}: at most {limit} characters.")


def parse_row(line: int, record: dict[str, str]) -> HistoryRow:
    try:
        email = parse_email(record.get("email", ""))
    except ValueError as error:
        raise RowError(f"email: {error}") from None
    source = record.get("source") or None
    if source is not None and source not in Source.values:
        raise RowError(f"source: unknown source '{source}'.")
    outcomes = [(name, parse_moment(record.get(name, ""), column=name)) for name in OUTCOMES]
    closed = [(name, moment) for name, moment in outcomes if moment is not None]
    if len(closed) > 1:
        raise RowError(f"The row has more than one outcome ({', '.join(name for name, _ in closed)}).")
    milestones = {name: parse_moment(record.get(name, ""), column=name) for name in MILESTONES[:-1]}
    milestones["closed_at"] = closed[0][1] if closed else None
    outcome = OUTCOMES[closed[0][0]] if closed else None
    if outcome == OpportunityStage.DISQUALIFIED and milestones["qo_at"] is not None:
        raise RowError("A disqualified opportunity never reached QO: qo_at and disqualified_at cannot both be set.")
    employees = record.get("employee_count", "")
    amount_text = record.get("amount", "")
    try:
        employee_count = int(employees) if employees else None
        amount = Decimal(amount_text) if amount_text else None
    except (ValueError, InvalidOperation):
        raise RowError("employee_count and amount must be numbers.") from None
    if employee_count is not None and not 0 <= employee_count <= MAX_EMPLOYEE_COUNT:
        raise RowError(f"employee_count must be between 0 and {MAX_EMPLOYEE_COUNT}.")
    if amount is not None and not (amount.is_finite() and abs(amount) < MAX_AMOUNT):
        raise RowError(f"amount must be a number below {MAX_AMOUNT}.")
    _check_lengths(record)
    country = record.get("country", "")
    if country and len(country) != 2:
        raise RowError(f"country: '{country}' is not an ISO 3166-1 alpha-2 code.")
    domain = record.get("company_domain", "")
    company = None
    if domain:
        company = CompanyData(
            domain=domain,
            name=record.get("company_name") or None,
            employee_count=employee_count,
            industry=record.get("industry") or None,
        )
    row = HistoryRow(
        line=line,
        email=email,
        lead={name: record.get(name) or None for name in ("first_name", "last_name", "title", "country")},
        company=company,
        source=source,
        sub_source=record.get("sub_source") or None,
        bucket=record.get("bucket", ""),
        milestones=milestones,
        outcome=outcome,
        amount=amount,
        reason=record.get("reason", ""),
    )
    _make_monotonic(row)
    return row


def _make_monotonic(row: HistoryRow) -> None:
    """Fill skipped opportunity milestones with the later one, and lift any that go back in time.

    Only milestones the file gave are reported: a filled one follows the milestone it copies.
    """
    m = row.milestones
    given = {name for name, moment in m.items() if moment is not None}
    if m["closed_at"] is not None or m["qo_at"] is not None:
        if m["opportunity_at"] is None:
            m["opportunity_at"] = m["qo_at"] or m["closed_at"]
        if m["qo_at"] is None and row.outcome in (OpportunityStage.WON, OpportunityStage.LOST):
            m["qo_at"] = m["closed_at"]
    closing_column = next((column for column, stage in OUTCOMES.items() if stage == row.outcome), "closed_at")
    floor: tuple[str, datetime] | None = None
    for name in MILESTONES:
        moment = m[name]
        if moment is None:
            continue
        if floor is not None and moment < floor[1]:
            if name in given:
                column = closing_column if name == "closed_at" else name
                row.warnings.append(
                    f"{column} {moment.isoformat()} is earlier than {floor[0]} {floor[1].isoformat()}; "
                    f"imported at {floor[1].isoformat()}."
                )
            m[name] = floor[1]
        elif name in given:
            floor = (name, moment)


def history_row_apply(*, row: HistoryRow, actor: Actor) -> None:
    """Apply one row's lead, episode and opportunity; steps already taken are skipped."""
    m = row.milestones
    lead, _ = lead_upsert(
        email=row.email,
        source=row.source,
        sub_source=row.sub_source,
        created_at=m["created_at"] or m["qualified_at"] or m["opportunity_at"],
        company=row.company,
        **row.lead,
    )
    if m["qualified_at"] is not None and not lead.qualifications.filter(qualified_at=m["qualified_at"]).exists():
        qualification_open(
            lead_id=lead.pk,
            qualified_at=m["qualified_at"],
            source=row.source or lead.source,
            sub_source=row.sub_source,
            bucket=row.bucket,
            actor=actor,
        )
    if m["opportunity_at"] is None:
        return
    booking = meeting_book(
        email=row.email,
        actor=actor,
        booked_at=m["opportunity_at"],
        source_system=IMPORT_SOURCE_SYSTEM,
        external_id=f"{row.email}@{m['opportunity_at'].isoformat()}",
    )
    if booking.opportunity is not None:
        _advance(booking.opportunity, row, actor)


def _advance(opportunity: Opportunity, row: HistoryRow, actor: Actor) -> None:
    m = row.milestones
    # A win from open fills the QO milestone itself; a distinct QO time is its own step.
    separate_qo = row.outcome != OpportunityStage.WON or m["qo_at"] != m["closed_at"]
    if opportunity.stage == OpportunityStage.OPEN and m["qo_at"] is not None and separate_qo:
        opportunity = opportunity_qualify(opportunity_id=opportunity.pk, actor=actor, at=m["qo_at"])
    if row.outcome is None or opportunity.stage not in (OpportunityStage.OPEN, OpportunityStage.QUALIFIED):
        return
    at = m["closed_at"]
    if row.outcome == OpportunityStage.WON:
        opportunity_win(opportunity_id=opportunity.pk, actor=actor, amount=row.amount, at=at)
    elif row.outcome == OpportunityStage.LOST:
        opportunity_lose(opportunity_id=opportunity.pk, actor=actor, reason=row.reason or "other", at=at)
    else:
        opportunity_disqualify(opportunity_id=opportunity.pk, actor=actor, reason=row.reason or "other", at=at)


def history_import(
    *,
    records: Iterable[tuple[int, dict[str, str] | None, str | None]],
    actor: Actor,
    on_chunk: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import parsed CSV records, one transaction per chunk and a savepoint per row.

    A row that cannot be read or applied is reported with its line number; the rest import.
    ``on_chunk`` is told how many rows each committed chunk held (for progress).
    """
    report = ImportReport()
    chunk: list[tuple[int, dict[str, str] | None, str | None]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= CHUNK_ROWS:
            _import_chunk(chunk, actor, report)
            if on_chunk is not None:
                on_chunk(len(chunk))
            chunk = []
    if chunk:
        _import_chunk(chunk, actor, report)
        if on_chunk is not None:
            on_chunk(len(chunk))
    return report


@transaction.atomic
def _import_chunk(
    chunk: list[tuple[int, dict[str, str] | None, str | None]], actor: Actor, report: ImportReport
) -> None:
    for line, record, problem in chunk:
        if record is None:
            report.errors.append((line, problem or "The row cannot be read."))
            continue
        try:
            row = parse_row(line, record)
            with transaction.atomic():
                history_row_apply(row=row, actor=actor)
        except (RowError, FunnelError, DatabaseError) as error:
            report.errors.append((line, getattr(error, "message", None) or str(error)))
            continue
        report.imported += 1
        report.warnings.extend((line, warning) for warning in row.warnings)
