"""The weekly report as JSON-ready dictionaries and as spreadsheet-safe CSV."""

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from .selectors import REPORT_FIELDS, ReportRow

INTERVAL_FIELDS = ("ql_to_qo_interval", "qo_to_won_interval")
# Characters a spreadsheet reads as the start of a formula (OWASP "CSV injection"), plus the
# control characters some of them strip before looking.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def report_row_data(row: ReportRow) -> dict[str, Any]:
    data = {name: getattr(row, name) for name in REPORT_FIELDS}
    for name in INTERVAL_FIELDS:
        interval = data[name]
        data[name] = list(interval) if interval is not None else None
    return data


CSV_HEADER: tuple[str, ...] = tuple(
    column
    for name in REPORT_FIELDS
    for column in (
        (f"{name.removesuffix('_interval')}_low", f"{name.removesuffix('_interval')}_high")
        if name in INTERVAL_FIELDS
        else (name,)
    )
)


def spreadsheet_safe(value: object) -> str:
    """A cell value a spreadsheet shows as text: anything that could start a formula gets a quote."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _csv_cells(row: ReportRow) -> list[str]:
    cells: list[object] = []
    for name in REPORT_FIELDS:
        value = getattr(row, name)
        if name in INTERVAL_FIELDS:
            cells.extend(value if value is not None else (None, None))
        else:
            cells.append(value)
    return [spreadsheet_safe(cell) for cell in cells]


def report_csv_lines(rows: Iterable[ReportRow]) -> Iterator[str]:
    """The header line, then one line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for cells in ([*CSV_HEADER], *(_csv_cells(row) for row in rows)):
        writer.writerow(cells)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
