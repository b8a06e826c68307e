"""The public Olist marketing-funnel dataset as funnel history.

Each MQL is a lead (a stable synthetic e-mail from its ``mql_id``), source ``inbound``,
sub-source its ``origin``, qualified at its ``first_contact_date``; each closed deal is an
opportunity won at its ``won_date``. Rows come out in the history import's format.
"""

import csv
from collections.abc import Iterator
from pathlib import Path

Record = tuple[int, dict[str, str] | None, str | None]


def olist_email(mql_id: str) -> str:
    return f"lead@{mql_id.strip().lower()}.olist.example"


def _numbered(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        line = 1
        for record in reader:
            start, line = line + 1, reader.line_num
            yield start, {key: (value or "").strip() for key, value in record.items() if key is not None}


def olist_records(*, mqls: Path, deals: Path) -> Iterator[Record]:
    """History records (line numbers of the MQL file); deals without an MQL are errors."""
    won: dict[str, tuple[int, str]] = {}
    for line, deal in _numbered(deals):
        won[deal.get("mql_id", "")] = (line, deal.get("won_date", ""))
    for line, mql in _numbered(mqls):
        mql_id = mql.get("mql_id", "")
        if not mql_id:
            yield line, None, "The MQL has no mql_id."
            continue
        _deal_line, won_at = won.pop(mql_id, (0, ""))
        first_contact = mql.get("first_contact_date", "")
        yield (
            line,
            {
                "email": olist_email(mql_id),
                "source": "inbound",
                "sub_source": mql.get("origin", ""),
                "created_at": first_contact,
                "qualified_at": first_contact,
                "won_at": won_at,
            },
            None,
        )
    for mql_id, (deal_line, _won_at) in sorted(won.items(), key=lambda item: item[1][0]):
        yield deal_line, None, f"Deal on line {deal_line} of the deals file: mql_id '{mql_id}' is not among the MQLs."
