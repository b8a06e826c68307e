"""A small funnel with hand-computed weekly report figures, built through the real services.

Weeks are ISO weeks in America/New_York (UTC-5 in January). Times below are New York wall times.
"""

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from leads.services import lead_upsert, qualification_open, qualification_recycle
from opportunities.services import (
    meeting_book,
    opportunity_disqualify,
    opportunity_lose,
    opportunity_qualify,
    opportunity_win,
)
from tests.funnel_helpers import CRM, SYSTEM

ZONE = "America/New_York"
NEW_YORK = ZoneInfo(ZONE)
AS_OF = datetime(2026, 2, 15, 17, tzinfo=UTC)


def ny(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK)


def _lead(email: str, source: str, sub_source: str) -> int:
    lead, _ = lead_upsert(email=email, source=source, sub_source=sub_source, created_at=ny(1, 9))
    return lead.pk


def _ql(email: str, at: datetime, *, source: str, sub_source: str, bucket: str) -> int:
    lead_id = _lead(email, source, sub_source)
    qualification_open(
        lead_id=lead_id, qualified_at=at, source=source, sub_source=sub_source, bucket=bucket, actor=SYSTEM
    )
    return lead_id


def _book(email: str, at: datetime) -> int:
    booking = meeting_book(email=email, actor=CRM, booked_at=at, external_id=f"meeting-{email}-{at:%j%H%M}")
    assert booking.opportunity is not None
    return booking.opportunity.pk


def build() -> None:
    """Week 2026-W02 is Mon 5 Jan to Sun 11 Jan; 2026-W03 is Mon 12 Jan to Sun 18 Jan (New York)."""
    # A: QL Mon 5th, booked, QO two days later, won five days after the QO (in W03).
    _ql("a@acme.example", ny(5, 10), source="inbound", sub_source="google", bucket="P1")
    a = _book("a@acme.example", ny(6, 10))
    opportunity_qualify(opportunity_id=a, actor=CRM, at=ny(7, 10))
    opportunity_win(opportunity_id=a, actor=CRM, at=ny(12, 10), amount=Decimal("1000"))

    # B: won straight from open (QO skipped: same moment as the win), four days after the QL.
    _ql("b@acme.example", ny(6, 9), source="inbound", sub_source="google", bucket="P2")
    b = _book("b@acme.example", ny(6, 12))
    opportunity_win(opportunity_id=b, actor=CRM, at=ny(10, 9))

    # C: QL Sunday 11th 23:30 in New York, already Monday 12th 04:30 in UTC; QO 2.5 days later; lost.
    _ql("c@chatty.example", ny(11, 23, 30), source="chat", sub_source="intercom", bucket="P1")
    c = _book("c@chatty.example", ny(12, 10))
    opportunity_qualify(opportunity_id=c, actor=CRM, at=ny(14, 11, 30))
    opportunity_lose(opportunity_id=c, actor=CRM, at=ny(20, 10), reason="competitor")

    # D: QL on the 7th, recycled on the 9th, qualifies again on the 14th (W03) through the product.
    d = _ql("d@delta.example", ny(7, 8), source="inbound", sub_source="linkedin", bucket="P2")
    qualification_recycle(lead_id=d, actor=SYSTEM, at=ny(9, 10))
    qualification_open(
        lead_id=d, qualified_at=ny(14, 10), source="product", sub_source="linkedin", bucket="P3", actor=SYSTEM
    )

    # E: an unqualified opportunity (no QL episode): bucket "unqualified", the lead's first-touch slice.
    _lead("e@walkin.example", "other", "partner")
    e = _book("e@walkin.example", ny(8, 10))
    opportunity_qualify(opportunity_id=e, actor=CRM, at=ny(9, 10))
    opportunity_win(opportunity_id=e, actor=CRM, at=ny(13, 10))

    # F: QO 1.25 days after the QL; won on 1 March, after the as-of moment: still open as of then.
    _ql("f@foxtrot.example", ny(8, 10), source="inbound", sub_source="google", bucket="P1")
    f = _book("f@foxtrot.example", ny(8, 11))
    opportunity_qualify(opportunity_id=f, actor=CRM, at=ny(9, 16))
    opportunity_win(opportunity_id=f, actor=CRM, at=ny(1, 10, month=3))

    # G: booked and disqualified: never a QO.
    _ql("g@golf.example", ny(5, 12), source="inbound", sub_source="google", bucket="P1")
    g = _book("g@golf.example", ny(5, 13))
    opportunity_disqualify(opportunity_id=g, actor=CRM, at=ny(6, 10), reason="not_icp")
