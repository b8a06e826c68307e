"""The product's main path in Chromium, through the interfaces people and integrations use:
rules published in the editor, product events from the official Segment SDK, a QL a rep can read,
a signed Calendly booking, a confirmed and won opportunity, and the analyst's rebuilt report."""

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from celery import Task
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect
from segment.analytics import Client
from segment.analytics import request as segment_request

from integrations.services import integration_create
from leads.models import Qualification
from leads.tasks import classify_leads, reevaluate_after_publish
from reporting.tasks import rebuild_weekly_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-browser-password"
LogIn = Callable[[str, str], None]

EMAIL = "dana.reyes@northwind.example"
CALENDLY_INVITEE = Path(__file__).parents[1] / "integrations" / "fixtures" / "calendly_invitee_created.json"

FIT_RULES = [
    {"label": "Mid-market", "field": "account.employee_count", "op": "between", "value": [50, 5000], "points": 30},
    {"label": "Software company", "field": "account.industry", "op": "in", "value": ["software"], "points": 20},
    {"label": "Free e-mail", "field": "lead.email_domain_type", "op": "eq", "value": "free", "points": -40},
]
INTENT_RULES = [
    {"label": "Asked for sales", "kind": "form", "names": ["Demo Request"], "points": 40},
    {"label": "Hit a plan limit", "kind": "product", "names": ["Workspace Limit Reached"], "points": 15},
    {"label": "Brought the team", "kind": "product", "names": ["Teammates Invited"], "points": 10},
]
# Fit 50 and intent 25 miss P1, and the product source lands the lead in PLG rather than P3.
BUCKETS = [
    {"key": "P1", "label": "High touch", "experience": "AE calls within 1 hour", "sla_hours": 1, "min_fit": 80},
    {
        "key": "PLG",
        "label": "Product-led",
        "experience": "Product specialist calls within 4 hours",
        "sla_hours": 4,
        "min_fit": 40,
        "min_intent": 20,
        "sources": ["product"],
    },
    {"key": "P3", "label": "Low touch", "experience": "Automated sequence", "sla_hours": 72},
]


@pytest.fixture
def tasks_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Classification, the publish's re-evaluation and the report rebuild run in the server thread
    when they are sent: with REDIS_URL set (CI) they would wait on a broker no worker here reads."""
    for task in (classify_leads, reevaluate_after_publish, rebuild_weekly_report):
        monkeypatch.setattr(task, "apply_async", partial(run_now, task))


def run_now(
    task: "Task[Any, Any]", args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None, **options: Any
) -> None:
    task(*args, **(kwargs or {}))


@pytest.fixture
def segment(live_server: Any) -> Iterator[Client]:
    write_key = integration_create(kind="segment", name="product").secret
    yield Client(write_key, host=f"{live_server.url}/segment", sync_mode=True, max_retries=0)
    # The SDK's module-wide HTTP session would keep the live server's request threads alive.
    segment_request._session.close()


def test_a_product_qualified_lead_goes_from_rules_to_the_weekly_report(
    page: Page,
    log_in: LogIn,
    make_user: Callable[..., User],
    live_server: Any,
    segment: Client,
    tasks_in_process: None,
) -> None:
    make_user("boss", role="revops_admin", password=PASSWORD)
    make_user("rita", role="sales_rep", password=PASSWORD)
    make_user("ana", role="analyst", password=PASSWORD)

    log_in("boss", PASSWORD)
    publish_rules(page)
    log_out(page)

    send_product_events(segment)

    log_in("rita", PASSWORD)
    page.wait_for_url("**/opportunities/queue/")
    read_the_qualified_lead(page)

    book_a_meeting(live_server.url)
    confirm_and_win_from_the_queue(page)
    log_out(page)

    log_in("ana", PASSWORD)
    page.wait_for_url("**/dashboard/")
    ql_week = report_week(Qualification.objects.get(lead__email=EMAIL).qualified_at)
    rebuild_the_report(page, ql_week)
    find_the_lead_in_the_report(page, ql_week)


def publish_rules(page: Page) -> None:
    page.get_by_role("link", name="Rules").click()
    page.get_by_role("button", name="Start the first ruleset").click()
    page.wait_for_url("**/edit/")
    page.get_by_label("Name", exact=True).fill("Product-led ICP")
    page.get_by_label("Fit threshold").fill("40")
    page.get_by_label("Intent threshold").fill("20")
    page.get_by_label("Fit rules (JSON list)").fill(json.dumps(FIT_RULES))
    page.get_by_label("Intent rules (JSON list)").fill(json.dumps(INTENT_RULES))
    page.get_by_label("Buckets, in order (JSON list)").fill(json.dumps(BUCKETS))
    page.get_by_role("button", name="Validate and save").click()
    expect(page.get_by_text("the rules are valid")).to_be_visible()

    page.get_by_role("link", name="Publish…").click()
    page.get_by_role("button", name=re.compile(r"^Yes, publish v\d+$")).click()
    page.wait_for_url("**/rules/jobs/**")
    expect(page.get_by_role("status").filter(has_text="Succeeded")).to_be_visible(timeout=20_000)


def send_product_events(segment: Client) -> None:
    """The SDK unchanged, in sync mode: each call is one request that raises on an error status."""
    segment.identify("user-42", {"email": EMAIL, "firstName": "Dana", "lastName": "Reyes", "title": "Head of Ops"})
    segment.group(
        "user-42",
        "acct-7",
        {"name": "Northwind", "website": "northwind.example", "employees": 240, "industry": "Software"},
    )
    segment.track("user-42", "Workspace Limit Reached", {"plan": "free"}, message_id="limit-1")
    segment.track("user-42", "Teammates Invited", {"count": 3}, message_id="invite-1")


def read_the_qualified_lead(page: Page) -> None:
    page.get_by_role("link", name="Leads").click()
    page.get_by_label("Stage").select_option(label="Qualified lead")
    page.get_by_role("button", name="Apply").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=EMAIL))
    expect(row).to_contain_text("Qualified lead")
    expect(row).to_contain_text("PLG")

    row.get_by_role("link", name=EMAIL).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dana Reyes")
    episode = page.get_by_role("article", name=re.compile("^Episode qualified"))
    expect(episode).to_contain_text("PLG · Product")
    expect(episode).to_contain_text("Bucket PLG (Product-led: Product specialist calls within 4 hours, SLA 4 h)")
    expect(episode).to_contain_text("Not P1: fit 50 is below 80")
    episode.get_by_text("Rules and activities at qualification").click()
    expect(episode).to_contain_text("Mid-market: hit, 30 points")
    expect(episode).to_contain_text("Software company: hit, 20 points")
    expect(episode.get_by_role("listitem").filter(has_text="Workspace Limit Reached")).to_contain_text("15 points")
    expect(episode.get_by_role("listitem").filter(has_text="Teammates Invited")).to_contain_text("10 points")


def book_a_meeting(server_url: str) -> None:
    """A signed Calendly ``invitee.created`` delivery, in Calendly's own payload format."""
    secret = integration_create(kind="calendly", name="sales").secret
    delivery = json.loads(CALENDLY_INVITEE.read_text())
    delivery["payload"].update(
        email=EMAIL,
        name="Dana Reyes",
        created_at=timezone.now().isoformat(),
        uri="https://api.calendly.com/scheduled_events/JOURNEY/invitees/DANA",
    )
    body = json.dumps(delivery).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    response = requests.post(
        f"{server_url}/webhooks/calendly/",
        data=body,
        headers={"Content-Type": "application/json", "Calendly-Webhook-Signature": f"t={stamp},v1={signature}"},
        timeout=10,
    )
    assert (response.status_code, response.json()["created"]) == (200, True)


def confirm_and_win_from_the_queue(page: Page) -> None:
    page.get_by_role("link", name="Queue").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=EMAIL))
    expect(row).to_contain_text("PLG")
    expect(row).to_contain_text("Product")

    row.get_by_role("link", name=EMAIL).click()
    qualification = page.get_by_role("region", name="Qualification", exact=True)
    expect(qualification).to_contain_text("Product-led: Product specialist calls within 4 hours")
    expect(qualification).to_contain_text("Not P1: fit 50 is below 80")
    expect(qualification.get_by_role("link", name=re.compile("^Why this lead qualified"))).to_be_visible()
    page.get_by_role("button", name="Confirm qualified").click()
    expect(page.get_by_text("Confirmed as a qualified opportunity.")).to_be_visible()
    page.get_by_label("Amount").fill("24000")
    page.get_by_role("button", name="Mark won").click()
    expect(page.get_by_text("Marked won.")).to_be_visible()
    expect(page.get_by_role("region", name="Opportunity", exact=True)).to_contain_text("24,000")


def rebuild_the_report(page: Page, week: str) -> None:
    page.get_by_label("To week").fill(week)
    page.get_by_label("Selected week").fill(week)
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("button", name="Rebuild report").click()
    # The page follows the job and reloads once it has finished.
    expect(page.get_by_role("status").filter(has_text="Rebuild succeeded")).to_be_visible(timeout=20_000)


def find_the_lead_in_the_report(page: Page, week: str) -> None:
    product = source_row(page, week, "product")
    # Cohort columns follow the QL's week, so the QO and the win count there whenever they happen.
    expect(report_cell(product, "QLs")).to_have_text("1")
    expect(report_cell(product, "QL cohort QO")).to_have_text("1")
    expect(report_cell(product, "QL cohort won")).to_have_text("1")

    report_cell(product, "QL cohort won").get_by_role("link").click()
    page.wait_for_url("**/dashboard/cells/**")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"QLs that were won {week}, source product")
    lead_row = page.get_by_role("row").filter(has=page.get_by_role("link", name=EMAIL))
    expect(lead_row).to_contain_text("PLG")
    expect(lead_row).to_contain_text("Closed won")

    lead_row.get_by_role("link", name=EMAIL).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dana Reyes")


BREAKDOWN_COLUMNS = ["QLs", "Opps", "QOs", "Won", "QL cohort QO", "QL cohort won", "QO cohort won"]


def source_row(page: Page, week: str, source: str) -> Locator:
    table = page.get_by_role("table", name=f"Week {week} by source")
    return table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=source, exact=True))


def report_cell(row: Locator, column: str) -> Locator:
    return row.get_by_role("cell").nth(BREAKDOWN_COLUMNS.index(column))


def report_week(moment: datetime) -> str:
    year, week, _ = moment.astimezone(ZoneInfo(settings.REPORT_TIME_ZONE)).isocalendar()
    return f"{year}-W{week:02d}"


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/**")
