"""The sales rep's pages under load: the queue with 50,000 open opportunities, and one opportunity.

Server time is measured in-process through Django's test client (no network, no browser), over
100 requests each, with the rules bucket order and SLAs of an active ruleset.
"""

from django.db import connection
from django.test import Client

from access.services import user_set_role
from leads.models import Ruleset
from opportunities.models import Opportunity

from .harness import Timings

OPEN_OPPORTUNITIES = 50_000
REQUESTS = 100
RULES = {
    "name": "Bench",
    "fit_threshold": 0,
    "intent_threshold": 1,
    "fit_rules": [],
    "intent_rules": [{"label": "Demo", "kind": "form", "points": 10}],
    "buckets": [
        {"key": "P1", "label": "High", "experience": "AE", "sla_hours": 1, "min_fit": 60},
        {"key": "P2", "label": "Assist", "experience": "SDR", "sla_hours": 24, "min_fit": 40},
        {"key": "P3", "label": "Low", "experience": "Sequence", "sla_hours": 72},
    ],
}

# One lead, one open episode (four in five leads) and one open opportunity per row, set-based.
GENERATE = [
    """INSERT INTO leads_account (domain, name, employee_count, industry, country, traits, created_at, updated_at)
       SELECT 'company' || n || '.example', 'Company ' || n, 10 + n % 5000, 'software', 'DE', '{}', now(), now()
       FROM generate_series(1, 5000) AS n""",
    """INSERT INTO leads_lead (email, first_name, last_name, title, country, traits, source, sub_source, stage,
                              created_at, updated_at, account_id, bucket)
       SELECT 'lead' || n || '@' || a.domain, 'Lead', 'Number ' || n, '', 'DE', '{}',
              (ARRAY['inbound', 'chat', 'product'])[n % 3 + 1], 'google', 'opportunity',
              now() - interval '30 days', now(), a.id, ''
       FROM generate_series(1, {count}) AS n
       JOIN leads_account a ON a.domain = 'company' || (n % 5000 + 1) || '.example'""",
    """INSERT INTO leads_qualification (lead_id, stage, qualified_at, source, sub_source, bucket, explanation,
                                       recorded_at)
       SELECT id, 'open', now() - interval '20 days' + (id % 1000) * interval '1 minute', source, sub_source,
              (ARRAY['P1', 'P2', 'P3'])[id % 3 + 1], '{}', now()
       FROM leads_lead WHERE id % 5 <> 0""",
    """INSERT INTO opportunities_opportunity (lead_id, qualification_id, bucket, stage, created_at, reason_note,
                                              source_system, external_id, recorded_at)
       SELECT l.id, q.id, coalesce(q.bucket, 'unqualified'), 'open',
              now() - interval '10 days' + (l.id % 10000) * interval '1 minute', '', 'bench', 'm' || l.id, now()
       FROM leads_lead l LEFT JOIN leads_qualification q ON q.lead_id = l.id""",
    "ANALYZE",
]


def run(*, count: int = OPEN_OPPORTUNITIES) -> list[Timings]:
    if connection.vendor != "postgresql":
        print("skipped: this benchmark generates its data with PostgreSQL's generate_series")
        return []
    with connection.cursor() as cursor:
        for statement in GENERATE:
            cursor.execute(statement.replace("{count}", str(int(count))))
    Ruleset.objects.create(version=1, name="Bench", status="active", document=RULES)
    client = Client(SERVER_NAME="localhost")
    client.force_login(user_set_role(username="bench-rep", role="sales_rep")[0])
    print(f"open opportunities: {Opportunity.objects.filter(stage='open').count():,}")
    some = list(Opportunity.objects.order_by("?").values_list("pk", flat=True)[:REQUESTS])
    return [
        _time_pages("queue page", client, ["/opportunities/queue/"] * REQUESTS),
        _time_pages("queue page, bucket P2", client, ["/opportunities/queue/?bucket=P2"] * REQUESTS),
        _time_pages("opportunity page", client, [f"/opportunities/{pk}/" for pk in some]),
    ]


def _time_pages(label: str, client: Client, paths: list[str]) -> Timings:
    timings = Timings(label)
    client.get(paths[0])
    for path in paths:
        with timings.measure():
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    return timings
