"""The public Olist marketing-funnel dataset (../shared/data/olist) imported as history."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import F

from integrations.olist import olist_email
from leads.models import Lead, Qualification
from opportunities.models import Opportunity
from tests.conftest import require_service

OLIST = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "olist"
MQLS = OLIST / "olist_marketing_qualified_leads_dataset.csv"
DEALS = OLIST / "olist_closed_deals_dataset.csv"

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_olist_funnel_imports_as_history_and_twice_changes_nothing():
    require_service(MQLS.is_file() and DEALS.is_file(), f"The Olist dataset ({OLIST})")
    out = StringIO()

    call_command("import_olist", "--mqls", str(MQLS), "--deals", str(DEALS), stdout=out, stderr=StringIO())

    assert Qualification.objects.count() == 8000
    assert Lead.objects.count() == 8000
    assert Opportunity.objects.filter(stage="won").count() == 842
    assert Opportunity.objects.count() == 842
    report = out.getvalue()
    assert "Imported 8000 rows; 1 warnings, 0 errors." in report
    warning = next(line for line in report.splitlines() if line.startswith("warning:"))
    assert "won_at 2018-03-06T19:38:55+00:00 is earlier than qualified_at" in warning
    lifted = Opportunity.objects.get(closed_at=F("qualification__qualified_at"))
    assert lifted.closed_at.isoformat() == "2018-03-08T00:00:00+00:00"
    assert Lead.objects.filter(sub_source="").count() == 60
    first = Lead.objects.get(email=olist_email("dac32acd4db4c29c230538b72f8dd87d"))
    assert (first.source, first.sub_source) == ("inbound", "social")
    assert first.qualifications.get().qualified_at.isoformat() == "2018-02-01T00:00:00+00:00"
    counts = (Lead.objects.count(), Qualification.objects.count(), Opportunity.objects.count())

    again = StringIO()
    call_command("import_olist", "--mqls", str(MQLS), "--deals", str(DEALS), stdout=again, stderr=StringIO())

    assert (Lead.objects.count(), Qualification.objects.count(), Opportunity.objects.count()) == counts
    assert Opportunity.objects.filter(stage="won").count() == 842
