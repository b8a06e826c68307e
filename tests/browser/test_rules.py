"""An admin drafts, validates, previews, publishes and rolls back rules in Chromium."""

import copy
import json

import pytest

from leads.models import Ruleset
from leads.services import ruleset_create, ruleset_publish, ruleset_reevaluate
from tests.leads.test_scoring import DOCUMENT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-browser-password"


@pytest.fixture
def reevaluate_in_process(monkeypatch):
    """The publish's re-evaluation runs in the server thread, not on a worker this test does not start."""
    monkeypatch.setattr("leads.services._enqueue_reevaluation", lambda job_id: ruleset_reevaluate(job_id=job_id))


def test_an_admin_drafts_previews_publishes_and_rolls_back(page, log_in, make_user, reevaluate_in_process):
    make_user("boss", role="revops_admin", password=PASSWORD)
    first = ruleset_create(document=copy.deepcopy(DOCUMENT))
    ruleset_publish(ruleset_id=first.pk, actor_name="setup")
    log_in("boss", PASSWORD)

    page.get_by_role("link", name="Rules").click()
    page.get_by_role("button", name=f"Start a draft from v{first.version}").click()
    page.wait_for_url("**/edit/")

    fit_rules = json.loads(page.get_by_label("Fit rules (JSON list)").input_value())
    fit_rules[1]["op"] = "one_of"
    page.get_by_label("Fit rules (JSON list)").fill(json.dumps(fit_rules))
    page.get_by_role("button", name="Validate and save").click()
    assert page.get_by_text("fit_rules[1].op: Unknown operator 'one_of'").is_visible()

    fit_rules[1]["op"] = "in"
    page.get_by_label("Fit rules (JSON list)").fill(json.dumps(fit_rules))
    page.get_by_label("Fit threshold").fill("55")
    page.get_by_role("button", name="Validate and save").click()
    assert page.get_by_text("the rules are valid").is_visible()
    draft = Ruleset.objects.get(status="draft")

    page.get_by_role("link", name="Preview").click()
    assert page.get_by_role("heading", name="Expected load per bucket").is_visible()
    page.get_by_role("link", name="Publish…").click()
    assert page.get_by_text("Fit threshold: 40 → 55").is_visible()
    page.get_by_role("button", name=f"Yes, publish v{draft.version}").click()
    page.wait_for_url("**/rules/jobs/**")
    assert page.locator("#job-status").get_attribute("data-status") == "succeeded"

    page.get_by_role("link", name="Back to the rules").click()
    latest = page.locator("article.publication").first.inner_text()
    assert f"v{draft.version}" in latest
    assert f"by boss, replacing v{first.version}" in latest
    page.get_by_role("link", name=f"Roll back to v{first.version}…").first.click()
    page.get_by_role("button", name=f"Yes, roll back to v{first.version}").click()
    page.wait_for_url("**/rules/jobs/**")

    assert Ruleset.objects.get(status="active").pk == first.pk
    assert Ruleset.objects.get(pk=draft.pk).status == "retired"
