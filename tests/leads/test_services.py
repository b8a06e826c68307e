from datetime import UTC, datetime

import pytest
from django.db import transaction

from leads.errors import InvalidInput
from leads.models import Account, Activity, Lead
from leads.services import CompanyData, activity_record, lead_upsert, leads_classify, normalize_domain

pytestmark = pytest.mark.django_db
MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_upsert_creates_a_lead_keyed_by_the_normalised_email():
    lead, created = lead_upsert(email="  Grace.Hopper@Navy.example ", first_name="Grace", source="inbound")

    assert created is True
    assert lead.email == "grace.hopper@navy.example"
    assert lead.account.domain == "navy.example"


def test_upsert_updates_the_same_lead_and_keeps_the_first_touch():
    lead_upsert(email="grace@navy.example", source="product", sub_source="g2")

    lead, created = lead_upsert(email="GRACE@navy.example", title="Admiral", source="inbound", sub_source="google")

    assert created is False
    assert Lead.objects.count() == 1
    assert (lead.title, lead.source, lead.sub_source) == ("Admiral", "product", "g2")


def test_free_mail_leads_get_no_account_unless_a_company_is_named():
    anonymous, _ = lead_upsert(email="someone@gmail.com")
    named, _ = lead_upsert(
        email="founder@gmail.com",
        company=CompanyData(domain="https://www.Tiny-Startup.example/about", name="Tiny", employee_count=4),
    )

    assert anonymous.account is None
    assert named.account.domain == "tiny-startup.example"
    assert named.account.employee_count == 4
    assert not Account.objects.filter(domain="gmail.com").exists()


def test_company_data_updates_the_account_without_erasing_known_facts():
    lead_upsert(email="a@acme.example", company=CompanyData(domain="acme.example", industry="software", country="de"))

    lead, _ = lead_upsert(email="b@acme.example", company=CompanyData(domain="acme.example", employee_count=250))

    account = Account.objects.get(domain="acme.example")
    assert (account.industry, account.country, account.employee_count) == ("software", "DE", 250)
    assert lead.account == account


def test_upserting_the_same_traits_and_company_again_changes_nothing():
    company = CompanyData(domain="acme.example", employee_count=250, traits={"plan": "team"})
    lead_upsert(email="a@acme.example", traits={"role": "ops"}, company=company)
    Lead.objects.update(classification_requested_at=None)
    before = Lead.objects.values("updated_at").get()

    lead_upsert(email="a@acme.example", traits={"role": "ops"}, company=company)

    assert Lead.objects.values("updated_at", "classification_requested_at").get() == {
        **before,
        "classification_requested_at": None,
    }


def test_a_changed_account_asks_to_classify_every_lead_of_that_account():
    lead_upsert(email="a@acme.example", company=CompanyData(domain="acme.example", employee_count=20))
    lead_upsert(email="b@acme.example")
    lead_upsert(email="c@other.example")
    Lead.objects.update(classification_requested_at=None)

    lead_upsert(email="a@acme.example", company=CompanyData(domain="acme.example", employee_count=400))

    pending = Lead.objects.filter(classification_requested_at__isnull=False).values_list("email", flat=True)
    assert sorted(pending) == ["a@acme.example", "b@acme.example"]


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "two@@signs.example"])
def test_invalid_emails_are_refused(email):
    with pytest.raises(InvalidInput) as error:
        lead_upsert(email=email)
    assert error.value.field == "email"


@pytest.mark.parametrize("domain", ["", "localhost", "two words.example"])
def test_invalid_domains_are_refused(domain):
    with pytest.raises(InvalidInput):
        normalize_domain(domain)


def test_an_activity_for_an_unknown_email_creates_the_lead_with_its_channel_as_first_touch():
    activity, created = activity_record(
        email="new@startup.example",
        kind="chat",
        name="Chat With Sales",
        occurred_at=MONDAY,
        source_system="intercom",
        external_id="conv-1",
    )

    assert created is True
    lead = Lead.objects.get(pk=activity.lead_id)
    assert (lead.source, lead.created_at) == ("chat", MONDAY)
    assert lead.classification_requested_at is not None


def test_the_same_activity_delivered_twice_is_stored_once():
    first, _ = activity_record(
        email="a@acme.example", kind="form", name="Demo Request", source_system="hubspot", external_id="sub-1"
    )

    again, created = activity_record(
        email="a@acme.example", kind="form", name="Demo Request", source_system="hubspot", external_id="sub-1"
    )

    assert created is False
    assert again.pk == first.pk
    assert Activity.objects.count() == 1


def test_an_unknown_activity_kind_is_refused():
    with pytest.raises(InvalidInput, match="Unknown activity kind"):
        activity_record(email="a@acme.example", kind="fax", name="x", source_system="s", external_id="1")
    assert not Lead.objects.exists()


def test_classification_is_enqueued_once_per_transaction_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    sent: list[list[int]] = []
    monkeypatch.setattr("leads.tasks.classify_leads.delay", sent.append)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for n in range(3):
            activity_record(email=f"p{n}@acme.example", kind="form", name="x", source_system="s", external_id=str(n))
        activity_record(email="p0@acme.example", kind="chat", name="y", source_system="s", external_id="again")
        assert sent == []

    assert sent == [sorted(Lead.objects.values_list("pk", flat=True))]


def test_a_rolled_back_transaction_enqueues_nothing(django_capture_on_commit_callbacks, monkeypatch):
    sent: list[list[int]] = []
    monkeypatch.setattr("leads.tasks.classify_leads.delay", sent.append)

    def failing_request() -> None:
        with transaction.atomic():
            activity_record(email="gone@acme.example", kind="form", name="x", source_system="s", external_id="1")
            raise RuntimeError("the request failed")

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            failing_request()
        with transaction.atomic():
            activity_record(email="kept@acme.example", kind="form", name="x", source_system="s", external_id="2")

    assert sent == [[Lead.objects.get(email="kept@acme.example").pk]]


def test_classifying_clears_the_pending_mark():
    activity, _ = activity_record(email="a@acme.example", kind="form", name="x", source_system="s", external_id="1")

    assert leads_classify(lead_ids=[activity.lead_id]) == 1

    lead = Lead.objects.get(pk=activity.lead_id)
    assert lead.classified_at >= lead.classification_requested_at
