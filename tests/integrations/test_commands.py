from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from integrations.models import Integration

pytestmark = pytest.mark.django_db


def test_funnel_integration_create_prints_the_secret_on_the_last_line():
    out = StringIO()

    call_command("funnel_integration", "create", "--kind", "calendly", "--name", "Sales calendar", stdout=out)

    integration = Integration.objects.get()
    assert (integration.kind, integration.name) == ("calendly", "Sales calendar")
    assert out.getvalue().splitlines()[-1] == integration.secret
    assert len(integration.secret) >= 40


def test_a_second_integration_of_the_same_name_is_refused():
    call_command("funnel_integration", "create", "--kind", "segment", "--name", "app", stdout=StringIO())

    with pytest.raises(CommandError, match="already exists"):
        call_command("funnel_integration", "create", "--kind", "segment", "--name", "app", stdout=StringIO())


def test_secrets_differ_between_integrations():
    for name in ("a", "b"):
        call_command("funnel_integration", "create", "--kind", "hubspot", "--name", name, stdout=StringIO())

    assert len(set(Integration.objects.values_list("secret", flat=True))) == 2
