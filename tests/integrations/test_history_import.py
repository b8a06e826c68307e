from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from integrations.models import ImportIssue, ImportRun
from jobs.models import Job
from leads.models import Account, Lead, Qualification, StageTransition
from opportunities.models import Opportunity

pytestmark = pytest.mark.django_db

HEADER = (
    "email,first_name,last_name,title,company_domain,company_name,employee_count,industry,country,source,"
    "sub_source,bucket,created_at,qualified_at,opportunity_at,qo_at,won_at,lost_at,disqualified_at,amount,reason\n"
)
ROWS = [
    # 2: a full walk to a win, with offsets
    "ada@acme.example,Ada,Lovelace,CTO,acme.example,Acme,250,software,DE,inbound,google,P1,"
    "2025-01-02T09:00:00+00:00,2025-01-05T10:00:00+00:00,2025-01-06T10:00:00+00:00,2025-01-10T10:00:00+00:00,"
    "2025-02-01T10:00:00+00:00,,,12000.50,",
    # 3: lost, dates only
    "bob@beta.example,Bob,,,,,,,,product,,P2,2025-01-01,2025-01-03,2025-01-04,2025-01-08,,2025-01-20,,,no_budget",
    # 4: skipped milestones: won straight from a QL (no opportunity_at, no qo_at)
    'cy@gamma.example,"Cy, Jr.",,,,,,,,chat,,P3,,2025-01-03,,,2025-01-09,,,,',
    # 5: disqualified
    "di@delta.example,,,,,,,,,inbound,,,,2025-01-03,2025-01-04,,,,2025-01-05,,no_show",
    # 6: no e-mail
    ",No,Email,,,,,,,inbound,,,,2025-01-03,,,,,,,",
    # 7: not a date
    "ed@eps.example,,,,,,,,,inbound,,,,someday,,,,,,,",
    # 8: non-monotonic: QO before the booking
    "fa@phi.example,,,,,,,,,inbound,,,,2025-01-03,2025-01-10,2025-01-05,,,,,",
    # 9: just a lead, no milestones
    "gi@iota.example,Gi,,,,,,,,,,,2025-01-02,,,,,,,,",
]


def write_csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "history.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def run_import(path: Path) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_history", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def snapshot() -> tuple[list, list, list, list]:
    return (
        list(Lead.objects.order_by("pk").values()),
        list(Qualification.objects.order_by("pk").values()),
        list(Opportunity.objects.order_by("pk").values()),
        list(StageTransition.objects.order_by("pk").values_list("pk", flat=True)),
    )


def test_history_import_walks_each_row_through_the_funnel(tmp_path):
    out, err = run_import(write_csv(tmp_path, ROWS))

    assert "Imported 6 rows; 1 warnings, 2 errors." in out
    assert "error: line 6: email:" in err
    assert "error: line 7: qualified_at: 'someday' is not a date." in err
    assert "warning: line 8: qo_at 2025-01-05T00:00:00+00:00 is earlier than opportunity_at" in out

    ada = Opportunity.objects.get(lead__email="ada@acme.example")
    assert (ada.stage, ada.amount, ada.qualified_at.isoformat(), ada.closed_at.isoformat()) == (
        "won",
        12000.50,
        "2025-01-10T10:00:00+00:00",
        "2025-02-01T10:00:00+00:00",
    )
    assert ada.qualification.bucket == "P1"
    assert ada.qualification.stage == "won"
    lead = ada.lead
    assert (lead.stage, lead.source, lead.sub_source, lead.title, lead.account) == (
        "customer",
        "inbound",
        "google",
        "CTO",
        Account.objects.get(domain="acme.example"),
    )
    bob = Opportunity.objects.get(lead__email="bob@beta.example")
    assert (bob.stage, bob.reason.code) == ("lost", "no_budget")
    assert bob.qualification.source == "product"
    cy = Opportunity.objects.get(lead__email="cy@gamma.example")
    assert cy.stage == "won"
    assert cy.created_at == cy.qualified_at == cy.closed_at
    assert Lead.objects.get(email="cy@gamma.example").first_name == "Cy, Jr."
    assert Opportunity.objects.get(lead__email="di@delta.example").stage == "disqualified"
    fa = Opportunity.objects.get(lead__email="fa@phi.example")
    assert fa.stage == "qualified"
    assert fa.qualified_at == fa.created_at
    assert Lead.objects.get(email="gi@iota.example").stage == "new"
    assert not Lead.objects.filter(email="ed@eps.example").exists()


def test_importing_the_same_file_twice_changes_nothing(tmp_path):
    path = write_csv(tmp_path, ROWS)
    run_import(path)
    before = snapshot()

    out, _ = run_import(path)

    assert "Imported 6 rows" in out
    assert snapshot() == before


def test_a_row_with_two_outcomes_or_an_unknown_reason_is_an_error(tmp_path):
    rows = [
        "a@acme.example,,,,,,,,,inbound,,,,2025-01-03,2025-01-04,2025-01-05,2025-01-06,2025-01-07,,,",
        "b@acme.example,,,,,,,,,inbound,,,,2025-01-03,2025-01-04,2025-01-05,,2025-01-07,,,bogus",
        "c@acme.example,,,,,,,,,inbound,,,,2099-01-03,,,,,,,",
    ]

    _out, err = run_import(write_csv(tmp_path, rows))

    assert "line 2: The row has more than one outcome" in err
    assert "line 3: 'bogus' is not a reason code" in err
    assert "line 4:" in err
    assert Opportunity.objects.count() == 0
    assert Qualification.objects.count() == 0


def test_admins_upload_a_file_and_see_progress_and_the_row_report(
    client, make_user, django_capture_on_commit_callbacks, monkeypatch
):
    from integrations.tasks import run_history_import

    # The worker's part, run here: the task body itself, whatever the broker.
    monkeypatch.setattr(run_history_import, "delay", lambda run_id: run_history_import(run_id))
    client.force_login(make_user("boss", "revops_admin"))
    upload = SimpleUploadedFile("crm.csv", (HEADER + "\n".join(ROWS) + "\n").encode(), content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/integrations/import/", {"file": upload})

    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/integrations/import/{run.pk}/"
    job = Job.objects.get()
    assert (job.status, job.done, job.total, job.result) == (
        "succeeded",
        8,
        8,
        {"imported": 6, "warnings": 1, "errors": 2},
    )
    assert list(ImportIssue.objects.values_list("line", "level")) == [(6, "error"), (7, "error"), (8, "warning")]
    page = client.get(response["Location"]).content.decode()
    assert "Succeeded" in page
    assert "someday" in page
    assert Lead.objects.count() == 6


def test_the_upload_page_is_for_admins_only(client, make_user):
    client.force_login(make_user("ana", "analyst"))

    assert client.get("/integrations/import/").status_code == 403
