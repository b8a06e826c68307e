"""A test-only loader for the public Olist marketing funnel (../shared/data/olist/).

Each marketing-qualified lead becomes a lead and a QL episode at its first contact (midnight UTC),
with source ``inbound`` and its origin as sub-source; each closed deal becomes an opportunity won at
``won_date``, reaching every milestone at that moment. The one deal "won" before its first contact is
made monotonic: it is won at the first contact.
"""

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from leads.models import Lead, Qualification
from opportunities.models import Opportunity

OLIST = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "olist"
LEADS_CSV = OLIST / "olist_marketing_qualified_leads_dataset.csv"
DEALS_CSV = OLIST / "olist_closed_deals_dataset.csv"


@dataclass(frozen=True)
class OlistLead:
    mql_id: str
    origin: str
    qualified_at: datetime
    won_at: datetime | None


def olist_available() -> bool:
    return LEADS_CSV.exists() and DEALS_CSV.exists()


def read_olist() -> list[OlistLead]:
    with DEALS_CSV.open(newline="") as deals_file:
        won = {
            row["mql_id"]: datetime.fromisoformat(row["won_date"]).replace(tzinfo=UTC)
            for row in csv.DictReader(deals_file)
        }
    with LEADS_CSV.open(newline="") as leads_file:
        rows = list(csv.DictReader(leads_file))
    leads = []
    for row in rows:
        qualified_at = datetime.fromisoformat(row["first_contact_date"]).replace(tzinfo=UTC)
        won_at = won.get(row["mql_id"])
        leads.append(
            OlistLead(
                mql_id=row["mql_id"],
                origin=row["origin"],
                qualified_at=qualified_at,
                won_at=max(won_at, qualified_at) if won_at else None,
            )
        )
    return leads


def load_olist(leads: list[OlistLead]) -> None:
    """Bulk-create the leads, episodes and won opportunities (no transition log: a fixture, not a service)."""
    Lead.objects.bulk_create(
        [
            Lead(
                email=f"{item.mql_id}@olist.example",
                source="inbound",
                sub_source=item.origin,
                stage="customer" if item.won_at else "ql",
                created_at=item.qualified_at,
            )
            for item in leads
        ],
        batch_size=1000,
    )
    lead_ids = dict(Lead.objects.filter(email__endswith="@olist.example").values_list("email", "pk"))
    Qualification.objects.bulk_create(
        [
            Qualification(
                lead_id=lead_ids[f"{item.mql_id}@olist.example"],
                qualified_at=item.qualified_at,
                stage="won" if item.won_at else "open",
                ended_at=item.won_at,
                source="inbound",
                sub_source=item.origin,
                bucket="olist",
            )
            for item in leads
        ],
        batch_size=1000,
    )
    episodes = dict(Qualification.objects.values_list("lead_id", "pk"))
    Opportunity.objects.bulk_create(
        [
            Opportunity(
                lead_id=lead_ids[f"{item.mql_id}@olist.example"],
                qualification_id=episodes[lead_ids[f"{item.mql_id}@olist.example"]],
                stage="won",
                created_at=item.won_at,
                qualified_at=item.won_at,
                closed_at=item.won_at,
                source_system="olist",
                external_id=item.mql_id,
            )
            for item in leads
            if item.won_at
        ],
        batch_size=1000,
    )
