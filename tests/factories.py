from datetime import UTC, datetime

import factory

from leads.models import Account, Activity, Lead


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    domain = factory.Sequence(lambda n: f"company{n}.example")
    name = factory.Sequence(lambda n: f"Company {n}")
    employee_count = 200
    industry = "software"
    country = "DE"


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"person{n}@company{n}.example")
    first_name = "Ada"
    last_name = "Lovelace"
    source = "inbound"
    created_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    kind = "form"
    name = "Demo Request"
    occurred_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    source_system = "test"
    external_id = factory.Sequence(lambda n: f"activity-{n}")
