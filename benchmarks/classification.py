"""Classification: re-evaluating every lead after a rules publish, and classifying one lead.

Loads 100,000 leads (10,000 accounts) with 1,000,000 activities over the last 120 days, set-based
in SQL, then publishes the API.md example ruleset and runs the publish's re-evaluation in this
process (the body of the ``reevaluate_after_publish`` task, as one worker runs it). Then times
``leads_classify`` for single leads, as after one activity. Needs PostgreSQL for full size; on
SQLite it loads a twentieth.
"""

import copy
import random
import time
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from jobs.models import Job
from leads.models import Lead, Qualification
from leads.services import leads_classify, ruleset_create, ruleset_publish, ruleset_reevaluate

from .harness import Timings

LEADS = 100_000
ACTIVITIES_PER_LEAD = 10
ACCOUNTS = 10_000
SINGLE_LEADS = 500

RULESET: dict[str, Any] = {
    "name": "Benchmark ICP",
    "fit_threshold": 40,
    "intent_threshold": 40,
    "half_life_days": 14,
    "lookback_days": 90,
    "fit_rules": [
        {"label": "Mid-market", "field": "account.employee_count", "op": "between", "value": [50, 5000], "points": 30},
        {"label": "Target industry", "field": "account.industry", "op": "in", "value": ["software", "fintech"],
         "points": 20},
        {"label": "Free e-mail", "field": "lead.email_domain_type", "op": "eq", "value": "free", "points": -40},
        {"label": "Senior", "field": "lead.title", "op": "contains_any", "value": ["vp", "head"], "points": 10},
    ],
    "intent_rules": [
        {"label": "Asked for sales", "kind": "form", "names": ["Demo Request", "Contact Sales"], "points": 40},
        {"label": "Chatted with sales", "kind": "chat", "points": 25},
        {"label": "Hit a plan limit", "kind": "product", "names": ["Workspace Limit Reached"], "points": 15,
         "max_count": 3},
        {"label": "Pricing on free plan", "kind": "product", "names": ["Pricing Page Viewed"],
         "conditions": [{"field": "properties.plan", "op": "eq", "value": "free"}], "points": 5},
    ],
    "buckets": [
        {"key": "P1", "label": "High touch", "experience": "AE calls within 1 hour", "sla_hours": 1, "min_fit": 60,
         "min_intent": 40},
        {"key": "P2", "label": "Sales assist", "experience": "SDR within a day", "sla_hours": 24, "min_fit": 50},
        {"key": "P3", "label": "Low touch", "experience": "Automated sequence", "sla_hours": 72},
    ],
}  # fmt: skip

# (kind, name, properties) by weight: most activity carries few points, a little asks for sales.
ACTIVITY_MIX = (
    [("product", "Pricing Page Viewed", '{"plan": "free"}')] * 10
    + [("product", "Pricing Page Viewed", '{"plan": "team"}')] * 4
    + [("product", "Workspace Limit Reached", "{}")] * 5
    + [("product", "Signed Up", "{}")] * 5
    + [("form", "Ebook Download", "{}")] * 4
    + [("chat", "Hello", "{}")] * 1
    + [("form", "Demo Request", "{}")] * 1
)


def _load_postgresql(leads: int, accounts: int, per_lead: int) -> None:
    mix = len(ACTIVITY_MIX)
    kinds = "ARRAY[" + ",".join(f"'{kind}'" for kind, _, _ in ACTIVITY_MIX) + "]"
    names = "ARRAY[" + ",".join(f"'{name}'" for _, name, _ in ACTIVITY_MIX) + "]"
    props = "ARRAY[" + ",".join(f"'{p}'" for _, _, p in ACTIVITY_MIX) + "]"
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO leads_account (domain, name, employee_count, industry, country, traits, created_at, updated_at)
            SELECT 'bench' || g || '.example', 'Bench ' || g, (g * 37) %% 8000,
                   (ARRAY['software', 'fintech', 'retail', 'media'])[1 + g %% 4], 'US', '{}', now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [accounts],
        )
        cursor.execute(
            """
            INSERT INTO leads_lead (email, first_name, last_name, title, country, traits, source, sub_source,
                                    account_id, stage, created_at, updated_at, bucket)
            SELECT 'lead' || g || '@bench' || (1 + g %% %s) || '.example', '', '',
                   (ARRAY['VP Sales', 'Engineer', 'Head of Ops', 'Analyst'])[1 + g %% 4], 'US', '{}', 'inbound', '',
                   a.id, 'new', now() - interval '130 days', now(), ''
            FROM generate_series(1, %s) AS g
            JOIN leads_account AS a ON a.domain = 'bench' || (1 + g %% %s) || '.example'
            """,
            [accounts, leads, accounts],
        )
        cursor.execute(
            f"""
            INSERT INTO leads_activity (lead_id, kind, name, properties, occurred_at, source_system, external_id,
                                        recorded_at)
            SELECT l.id, ({kinds})[1 + k], ({names})[1 + k], (({props})[1 + k])::jsonb,
                   now() - ((l.id * 7919 + g * 104729) %% 120000) / 1000.0 * interval '1 day',
                   'bench', l.id || '-' || g, now()
            FROM leads_lead AS l
            CROSS JOIN generate_series(1, %s) AS g
            CROSS JOIN LATERAL (SELECT ((l.id * 31 + g * 17 + (l.id / 7) * g) %% {mix})::int AS k) AS pick
            """,
            [per_lead],
        )
        cursor.execute("ANALYZE leads_lead; ANALYZE leads_activity; ANALYZE leads_account;")


def _load_other(leads: int, accounts: int, per_lead: int) -> None:
    from leads.models import Account, Activity

    rng = random.Random(7)
    now = timezone.now()
    Account.objects.bulk_create(
        Account(domain=f"bench{n}.example", employee_count=(n * 37) % 8000, industry="software")
        for n in range(1, accounts + 1)
    )
    account_ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    Lead.objects.bulk_create(
        (
            Lead(email=f"lead{n}@bench{n % accounts}.example", account_id=account_ids[n % accounts], title="VP Sales")
            for n in range(leads)
        ),
        batch_size=2000,
    )
    lead_ids = list(Lead.objects.values_list("pk", flat=True))
    rows = []
    for lead_id in lead_ids:
        for n in range(per_lead):
            kind, name, _ = rng.choice(ACTIVITY_MIX)
            occurred = now - timedelta(days=rng.uniform(0, 120))
            rows.append(
                Activity(
                    lead_id=lead_id,
                    kind=kind,
                    name=name,
                    properties={"plan": "free"},
                    occurred_at=occurred,
                    source_system="bench",
                    external_id=f"{lead_id}-{n}",
                )
            )
    Activity.objects.bulk_create(rows, batch_size=5000)


def run() -> list[Timings]:
    postgres = connection.vendor == "postgresql"
    leads = LEADS if postgres else LEADS // 20
    started = time.perf_counter()
    (_load_postgresql if postgres else _load_other)(leads, ACCOUNTS if postgres else 500, ACTIVITIES_PER_LEAD)
    print(
        f"loaded {leads:,} leads, {leads * ACTIVITIES_PER_LEAD:,} activities in {time.perf_counter() - started:.1f} s"
    )

    publish = Timings(f"publish re-evaluation ({leads // 1000}k)")
    ruleset = ruleset_create(document=copy.deepcopy(RULESET))
    with transaction.atomic():
        job = ruleset_publish(ruleset_id=ruleset.pk, actor_name="bench")
        # The re-evaluation is timed below, in this process, rather than run by the commit hook.
        connection.run_on_commit = []
    with publish.measure():
        ruleset_reevaluate(job_id=job.pk)
    job = Job.objects.get(pk=job.pk)
    seconds = publish.seconds[0]
    print(
        f"re-evaluated {job.done:,} leads in {seconds:.1f} s ({job.done / seconds:,.0f} leads/s); "
        f"{Qualification.objects.count():,} episodes opened; status {job.status}"
    )

    single = Timings("leads_classify, one lead")
    rng = random.Random(11)
    ids = list(Lead.objects.values_list("pk", flat=True))
    for lead_id in rng.sample(ids, SINGLE_LEADS):
        Lead.objects.filter(pk=lead_id).update(classification_requested_at=timezone.now())
        with single.measure():
            leads_classify(lead_ids=[lead_id])
    return [publish, single]
