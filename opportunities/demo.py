"""Demo data for `make run`: sixteen weeks of a B2B SaaS company's funnel, written through the services.

Every lead lives a short story in time order: first touch, further activities, a QL episode when the
classifier finds its fit and intent pass the demo ruleset (published first, as version 1), a meeting,
and the rep's verdict. Milestones that
would fall after now have not happened yet, so recent cohorts are still open. The same seed always
gives the same story, relative to the moment of seeding.
"""

import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from access.roles import Role
from access.services import user_set_role
from leads.choices import ActivityKind, EpisodeStage, RulesetStatus, Source
from leads.models import Account, Activity, Lead, Qualification, Ruleset
from leads.services import (
    CompanyData,
    activity_record,
    lead_upsert,
    leads_classify,
    qualification_recycle,
    ruleset_create,
    ruleset_publish,
)
from leads.transitions import Actor

from .choices import UNQUALIFIED_BUCKET, OpportunityStage
from .models import Opportunity
from .services import meeting_book, opportunity_disqualify, opportunity_lose, opportunity_qualify, opportunity_win

T = TypeVar("T")
# (activity kind, activity name, days after the first touch of the sequence)
Step = tuple[str, str, float]

DEFAULT_LEADS = 2800
DEFAULT_SEED = 2026
DEMO_PASSWORD = "funnel-demo"
DEMO_USERS: tuple[tuple[str, Role], ...] = (
    ("admin", Role.REVOPS_ADMIN),
    ("ana", Role.ANALYST),
    ("andre", Role.ANALYST),
    ("rita", Role.SALES_REP),
    ("raj", Role.SALES_REP),
    ("rosa", Role.SALES_REP),
)
SOURCE_SYSTEM = "demo"
HISTORY = timedelta(weeks=16)
CRM = Actor.integration("demo")
CLASSIFIER = Actor.system()

MAX_EPISODES = 3
RECYCLE_AFTER = timedelta(days=45)
SENIOR_WORDS = ["vp", "head", "director", "chief", "founder", "cto", "ceo"]
TARGET_INDUSTRIES = ["software", "financial services", "e-commerce", "media"]
CORE_MARKETS = ["US", "GB", "DE", "CA", "NL", "AU", "SE"]
# The demo company's ICP, published as ruleset v1 before any lead arrives; the real classifier qualifies.
DEMO_RULESET: dict[str, Any] = {
    "name": "Demo ICP",
    "fit_threshold": 50,
    "intent_threshold": 30,
    "half_life_days": 14,
    "lookback_days": 90,
    "recycle_after_days": 45,
    "fit_rules": [
        {"label": "Business e-mail address", "field": "lead.email_domain_type", "op": "eq", "value": "business",
         "points": 10},
        {"label": "Free e-mail address", "field": "lead.email_domain_type", "op": "eq", "value": "free",
         "points": -15},
        {"label": "Employees 1,000+", "field": "account.employee_count", "op": "gte", "value": 1000, "points": 40},
        {"label": "Employees 200-999", "field": "account.employee_count", "op": "between", "value": [200, 999],
         "points": 35},
        {"label": "Employees 50-199", "field": "account.employee_count", "op": "between", "value": [50, 199],
         "points": 25},
        {"label": "Employees 11-49", "field": "account.employee_count", "op": "between", "value": [11, 49],
         "points": 10},
        {"label": "Target industry", "field": "account.industry", "op": "in", "value": TARGET_INDUSTRIES,
         "points": 20},
        {"label": "Senior title", "field": "lead.title", "op": "contains_any", "value": SENIOR_WORDS, "points": 20},
        {"label": "Student", "field": "lead.title", "op": "contains", "value": "student", "points": -40},
        {"label": "Core market", "field": "lead.country", "op": "in", "value": CORE_MARKETS, "points": 10},
    ],
    "intent_rules": [
        {"label": "Asked for a demo", "kind": "form", "names": ["Demo Request"], "points": 45},
        {"label": "Contacted sales", "kind": "form", "names": ["Contact Sales"], "points": 40},
        {"label": "Chatted with sales", "kind": "chat", "names": ["Chat With Sales"], "points": 35},
        {"label": "Hit a plan limit", "kind": "product", "names": ["Workspace Limit Reached"], "points": 30},
        {"label": "Invited a teammate", "kind": "product", "names": ["Invited Teammate"], "points": 20},
        {"label": "Viewed pricing", "kind": "product", "names": ["Pricing Page Viewed"], "points": 12},
        {"label": "Signed up", "kind": "product", "names": ["Signed Up"], "points": 10},
        {"label": "Downloaded an e-book", "kind": "form", "names": ["Ebook Download"], "points": 8},
    ],
    "buckets": [
        {"key": "P1", "label": "High touch", "experience": "AE calls within 1 hour", "sla_hours": 1,
         "min_fit": 75, "min_intent": 40},
        {"key": "P2", "label": "Sales assist", "experience": "SDR reaches out within a day", "sla_hours": 24,
         "min_fit": 60, "min_intent": 30},
        {"key": "P3", "label": "Low touch", "experience": "Automated nurture sequence", "sla_hours": 72},
    ],
}  # fmt: skip
HIGH_INTENT = frozenset({"Demo Request", "Contact Sales", "Chat With Sales"})

BOOKING_CHANCE = {"P1": 0.6, "P2": 0.48, "P3": 0.27}
BOOKING_DELAY_DAYS = {"P1": 0.7, "P2": 1.6, "P3": 3.5}
QO_CHANCE = {"P1": 0.86, "P2": 0.78, "P3": 0.64, UNQUALIFIED_BUCKET: 0.3}
WIN_CHANCE = {"P1": 0.36, "P2": 0.28, "P3": 0.2, UNQUALIFIED_BUCKET: 0.2}
SOURCE_BOOKING_FACTOR: dict[str, float] = {Source.INBOUND: 1.0, Source.CHAT: 1.1, Source.PRODUCT: 0.8}
COMEBACK_CHANCE = 0.3
UNQUALIFIED_MEETING_CHANCE = {True: 0.12, False: 0.01}

SOURCES = ((Source.INBOUND, 50), (Source.PRODUCT, 30), (Source.CHAT, 20))
SUB_SOURCES: dict[str, tuple[tuple[str, float], ...]] = {
    Source.INBOUND: (
        ("google", 30),
        ("linkedin", 22),
        ("newsletter", 12),
        ("webinar", 12),
        ("g2", 10),
        ("partner", 8),
        ("capterra", 6),
    ),
    Source.CHAT: (("google", 35), ("linkedin", 20), ("g2", 15), ("newsletter", 15), ("partner", 15)),
    Source.PRODUCT: (
        ("google", 30),
        ("g2", 20),
        ("linkedin", 15),
        ("newsletter", 15),
        ("producthunt", 10),
        ("partner", 10),
    ),
}
DISQUALIFY_REASONS = (("not_icp", 40), ("no_show", 25), ("no_need", 20), ("no_budget", 10), ("timing", 5))
LOSS_REASONS = (("competitor", 35), ("no_budget", 25), ("timing", 20), ("no_need", 15), ("other", 5))

FIRST_NAMES = """
Aaliyah Adrian Aiko Alejandro Amara Amelia Anders Ayesha Bastian Beatriz Benjamin Carmen Chen Chloe Daniel
Deepa Diego Elena Elif Emeka Emma Farah Felix Freya Gabriel Grace Hana Hannah Hugo Ines Isaac Ivan Jamal
Jana Javier Jonas Julia Kai Kenji Lara Leon Lina Lucas Maja Malik Marco Maria Mateo Mei Mia Nadia Naomi
Nikhil Noah Olivia Omar Oscar Priya Rafael Ravi Rosa Sara Sebastian Sofia Tariq Thomas Tomas Valentina
Viktor Yara Yusuf Zoe
""".split()  # noqa: SIM905
LAST_NAMES = """
Adeyemi Ahmed Alvarez Andersson Becker Bianchi Brown Chen Costa Dijkstra Dubois Eriksen Fernandez Fischer
Garcia Hansen Hoffmann Ito Jansen Johnson Kim Kowalski Kumar Larsen Laurent Lee Lopez Martin Meyer Moreau Murphy
Nakamura Nguyen Novak O'Brien Okafor Patel Petrov Quinn Rossi Santos Schmidt Silva Singh Smith Sousa Suzuki
Tanaka Taylor Torres Visser Wagner Walker Wang Weber Williams Wilson Yilmaz Zhang
""".split()  # noqa: SIM905
TITLES = (
    ("VP Sales", 6),
    ("Head of Revenue Operations", 7),
    ("RevOps Manager", 9),
    ("Director of Marketing", 6),
    ("Marketing Operations Manager", 9),
    ("Chief Revenue Officer", 3),
    ("Founder & CEO", 5),
    ("CTO", 3),
    ("Head of Growth", 5),
    ("Sales Development Representative", 8),
    ("Account Executive", 7),
    ("Product Manager", 7),
    ("Software Engineer", 8),
    ("Data Analyst", 6),
    ("Customer Success Manager", 5),
    ("Student", 2),
)
FREE_MAIL_TITLES = (("Consultant", 4), ("Freelance Marketer", 3), ("Founder", 3), ("Student", 3), ("", 2))
FREE_MAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "gmx.de")
FREE_MAIL_SHARE = 0.14

COMPANY_PREFIXES = """
Acorn Atlas Beacon Birch Blue Bright Cedar Clear Copper Crest Delta Ember Falcon Fern Granite Harbor Helix
Iron Juniper Kestrel Lumen Maple Meridian Nimbus North Nova Oak Orbit Pioneer Quartz Ridge Sable Silver
Summit Swift Tidal Vertex Willow Zephyr
""".split()  # noqa: SIM905
COMPANY_SUFFIXES: dict[str, str] = {
    "Analytics": "software",
    "Cloud": "software",
    "Software": "software",
    "Security": "software",
    "Data": "software",
    "Pay": "financial services",
    "Bank": "financial services",
    "Insurance": "insurance",
    "Health": "healthcare",
    "Retail": "retail",
    "Commerce": "e-commerce",
    "Logistics": "logistics",
    "Media": "media",
    "Learning": "education",
    "Robotics": "manufacturing",
    "Energy": "energy",
    "Foods": "consumer goods",
    "Travel": "travel",
    "Consulting": "professional services",
}
COUNTRIES = (
    ("US", 40),
    ("GB", 12),
    ("DE", 10),
    ("CA", 6),
    ("FR", 6),
    ("NL", 5),
    ("AU", 5),
    ("IN", 5),
    ("BR", 5),
    ("SE", 3),
    ("ES", 3),
)
COUNTRY_TLDS = {"DE": ".de", "GB": ".co.uk", "FR": ".fr", "NL": ".nl", "SE": ".se", "BR": ".com.br"}


@dataclass(frozen=True)
class DemoSummary:
    leads: int
    accounts: int
    activities: int
    qls_by_bucket: dict[str, int]
    opportunities_by_stage: dict[str, int]
    unqualified_opportunities: int
    requalified_leads: int

    @property
    def qls(self) -> int:
        return sum(self.qls_by_bucket.values())

    @property
    def opportunities(self) -> int:
        return sum(self.opportunities_by_stage.values())


@dataclass(frozen=True)
class Company:
    name: str
    domain: str
    employee_count: int
    industry: str
    country: str


@dataclass(frozen=True)
class Person:
    email: str
    first_name: str
    last_name: str
    title: str
    country: str
    source: str
    sub_source: str
    company: Company | None


@dataclass(frozen=True)
class Touch:
    kind: str
    name: str
    at: datetime
    external_id: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Demo:
    rng: random.Random
    now: datetime
    companies: list[Company]
    rep_ids: list[int]
    emails: set[str] = field(default_factory=set)
    ids: Iterator[int] = field(default_factory=itertools.count)
    owners: dict[int, list[int]] = field(default_factory=dict)

    def days(self, low: float, high: float) -> timedelta:
        return timedelta(days=self.rng.uniform(low, high))

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self.ids)}"


def demo_logins() -> list[tuple[str, str]]:
    """(username, role label) of every demo user; all share DEMO_PASSWORD."""
    return [(username, role.label) for username, role in DEMO_USERS]


def demo_is_seeded() -> bool:
    return Activity.objects.filter(source_system=SOURCE_SYSTEM).exists()


def demo_summary() -> DemoSummary:
    return DemoSummary(
        leads=Lead.objects.count(),
        accounts=Account.objects.count(),
        activities=Activity.objects.count(),
        qls_by_bucket=_counts(Qualification.objects.all(), "bucket"),
        opportunities_by_stage=_stage_counts(),
        unqualified_opportunities=Opportunity.objects.filter(qualification__isnull=True).count(),
        requalified_leads=Lead.objects.annotate(episodes=Count("qualifications")).filter(episodes__gte=2).count(),
    )


def _stage_counts() -> dict[str, int]:
    counts = _counts(Opportunity.objects.all(), "stage")
    return {stage: counts.get(stage, 0) for stage in OpportunityStage.values}


def _counts(queryset: QuerySet[Any], field_name: str) -> dict[str, int]:
    rows = queryset.order_by(field_name).values_list(field_name).annotate(count=Count("pk"))
    return {value: count for value, count in rows}


def demo_seed(*, leads: int = DEFAULT_LEADS, seed: int = DEFAULT_SEED) -> DemoSummary | None:
    """Load the demo users and ``leads`` leads with their history; None when demo data exists already."""
    with transaction.atomic():
        if demo_is_seeded():
            return None
        rng = random.Random(seed)
        demo = Demo(rng=rng, now=timezone.now(), companies=_companies(rng, leads), rep_ids=_demo_users())
        _publish_demo_ruleset()
        arrivals = [_seed_lead(demo) for _ in range(leads)]
        leads_classify(lead_ids=[lead_id for lead_id, _, _ in arrivals])
        for lead_id, person, touches in arrivals:
            _live(demo, lead_id, person, touches)
        _assign_owners(demo)
        return demo_summary()


def _publish_demo_ruleset() -> None:
    """The demo's rules become the active ruleset (v1 on a fresh database) unless one is active already."""
    if Ruleset.objects.filter(status=RulesetStatus.ACTIVE).exists():
        return
    ruleset = ruleset_create(document=DEMO_RULESET)
    ruleset_publish(ruleset_id=ruleset.pk, actor_name="demo")


def _demo_users() -> list[int]:
    """Create the demo users; returns the sales reps' ids."""
    rep_ids = []
    for username, role in DEMO_USERS:
        user, _ = user_set_role(username=username, role=role, password=DEMO_PASSWORD)
        if role == Role.SALES_REP:
            rep_ids.append(user.pk)
    return rep_ids


def _assign_owners(demo: Demo) -> None:
    for rep_id, opportunity_ids in demo.owners.items():
        Opportunity.objects.filter(pk__in=opportunity_ids).update(owner_id=rep_id)


def _pick(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    return rng.choices([value for value, _ in options], weights=[weight for _, weight in options])[0]


def _companies(rng: random.Random, leads: int) -> list[Company]:
    names = [(prefix, suffix) for prefix in COMPANY_PREFIXES for suffix in COMPANY_SUFFIXES]
    rng.shuffle(names)
    return [_company(rng, prefix, suffix) for prefix, suffix in names[: max(10, leads // 4)]]


def _company(rng: random.Random, prefix: str, suffix: str) -> Company:
    country = _pick(rng, COUNTRIES)
    tld = COUNTRY_TLDS.get(country) or _pick(rng, ((".com", 7), (".io", 2), (".co", 1)))
    return Company(
        name=f"{prefix} {suffix}",
        domain=f"{prefix}{suffix}{tld}".lower(),
        employee_count=int(10 ** rng.triangular(0.5, 4.3, 1.2)),
        industry=COMPANY_SUFFIXES[suffix],
        country=country,
    )


def _person(demo: Demo) -> Person:
    rng = demo.rng
    source = _pick(rng, SOURCES)
    company = None if rng.random() < FREE_MAIL_SHARE else rng.choice(demo.companies)
    first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    domain = company.domain if company else rng.choice(FREE_MAIL_DOMAINS)
    return Person(
        email=_unique_email(demo, first_name, last_name, domain),
        first_name=first_name,
        last_name=last_name,
        title=_pick(rng, TITLES if company else FREE_MAIL_TITLES),
        country=company.country if company else _pick(rng, COUNTRIES),
        source=source,
        sub_source=_pick(rng, SUB_SOURCES[source]),
        company=company,
    )


def _unique_email(demo: Demo, first_name: str, last_name: str, domain: str) -> str:
    local = f"{first_name}.{last_name}".lower().replace(" ", "").replace("'", "")
    email = f"{local}@{domain}"
    for number in itertools.count(2):
        if email not in demo.emails:
            break
        email = f"{local}{number}@{domain}"
    demo.emails.add(email)
    return email


def _seed_lead(demo: Demo) -> tuple[int, Person, list[Touch]]:
    """A lead's first touch and opening activities; the classifier sees them all at once afterwards."""
    person = _person(demo)
    first_touch_at = _first_touch_at(demo)
    lead, _ = lead_upsert(
        email=person.email,
        first_name=person.first_name,
        last_name=person.last_name,
        title=person.title,
        country=person.country,
        source=person.source,
        sub_source=person.sub_source,
        company=_company_data(person.company),
        created_at=first_touch_at,
    )
    return lead.pk, person, _record(demo, person, _opening_touches(demo, person, first_touch_at))


def _first_touch_at(demo: Demo) -> datetime:
    """Somewhere in the last sixteen weeks, a little more often lately: the company is growing."""
    window = HISTORY - timedelta(hours=1)
    return demo.now - HISTORY + window * demo.rng.random() ** 0.9


def _company_data(company: Company | None) -> CompanyData | None:
    if company is None:
        return None
    return CompanyData(
        domain=company.domain,
        name=company.name,
        employee_count=company.employee_count,
        industry=company.industry,
        country=company.country,
    )


def _touch(demo: Demo, person: Person, kind: str, name: str, at: datetime) -> Touch:
    properties: dict[str, Any] = {"plan": "free"} if kind == ActivityKind.PRODUCT else {"utm_source": person.sub_source}
    return Touch(kind=kind, name=name, at=at, external_id=demo.next_id("activity"), properties=properties)


def _opening_touches(demo: Demo, person: Person, start: datetime) -> list[Touch]:
    steps = OPENING_STEPS[person.source](demo.rng)
    return [_touch(demo, person, kind, name, start + timedelta(days=day)) for kind, name, day in steps]


def _inbound_steps(rng: random.Random) -> list[Step]:
    first = _pick(rng, (("Ebook Download", 50), ("Demo Request", 30), ("Contact Sales", 20)))
    steps: list[Step] = [(ActivityKind.FORM, first, 0.0)]
    if first == "Ebook Download" and rng.random() < 0.3:
        steps.append((ActivityKind.FORM, _pick(rng, (("Demo Request", 2), ("Contact Sales", 1))), rng.uniform(2, 25)))
    return steps


def _chat_steps(rng: random.Random) -> list[Step]:
    steps: list[Step] = [(ActivityKind.CHAT, "Chat With Sales", 0.0)]
    if rng.random() < 0.15:
        steps.append((ActivityKind.FORM, "Demo Request", rng.uniform(1, 10)))
    return steps


def _product_steps(rng: random.Random) -> list[Step]:
    steps: list[Step] = [(ActivityKind.PRODUCT, "Signed Up", 0.0)]
    for name, chance, low, high in (
        ("Pricing Page Viewed", 0.45, 0, 14),
        ("Invited Teammate", 0.4, 1, 20),
        ("Pricing Page Viewed", 0.2, 5, 30),
        ("Workspace Limit Reached", 0.22, 5, 30),
    ):
        if rng.random() < chance:
            steps.append((ActivityKind.PRODUCT, name, rng.uniform(low, high)))
    return sorted(steps, key=lambda step: step[2])


def _comeback_touches(demo: Demo, person: Person, ended_at: datetime) -> list[Touch]:
    """Some leads whose episode ended without a win show intent again weeks later."""
    if demo.rng.random() >= COMEBACK_CHANCE:
        return []
    start = ended_at + demo.days(14, 60)
    steps = COMEBACK_STEPS[person.source](demo.rng)
    return [_touch(demo, person, kind, name, start + timedelta(days=day)) for kind, name, day in steps]


def _inbound_comeback_steps(rng: random.Random) -> list[Step]:
    return [(ActivityKind.FORM, _pick(rng, (("Demo Request", 2), ("Contact Sales", 1))), 0.0)]


def _chat_comeback_steps(rng: random.Random) -> list[Step]:
    return [(ActivityKind.CHAT, "Chat With Sales", 0.0)]


def _product_comeback_steps(rng: random.Random) -> list[Step]:
    return [
        (ActivityKind.PRODUCT, "Pricing Page Viewed", 0.0),
        (ActivityKind.PRODUCT, "Workspace Limit Reached", rng.uniform(0.5, 5)),
    ]


OPENING_STEPS: dict[str, Callable[[random.Random], list[Step]]] = {
    Source.INBOUND: _inbound_steps,
    Source.CHAT: _chat_steps,
    Source.PRODUCT: _product_steps,
}
COMEBACK_STEPS: dict[str, Callable[[random.Random], list[Step]]] = {
    Source.INBOUND: _inbound_comeback_steps,
    Source.CHAT: _chat_comeback_steps,
    Source.PRODUCT: _product_comeback_steps,
}


def _record(demo: Demo, person: Person, touches: list[Touch]) -> list[Touch]:
    """Record the touches that have already happened; the rest never will."""
    happened = [touch for touch in touches if touch.at < demo.now]
    for touch in happened:
        activity_record(
            email=person.email,
            kind=touch.kind,
            name=touch.name,
            source_system=SOURCE_SYSTEM,
            external_id=touch.external_id,
            occurred_at=touch.at,
            properties=touch.properties,
        )
    return happened


def _live(demo: Demo, lead_id: int, person: Person, touches: list[Touch]) -> None:
    """Play the lead's episodes in time order: the classifier qualifies it, the demo works each episode."""
    for episode_number in range(MAX_EPISODES):
        if episode_number:
            leads_classify(lead_ids=[lead_id])
        episode = Qualification.objects.filter(lead_id=lead_id, stage=EpisodeStage.OPEN).first()
        if episode is None:
            if not Qualification.objects.filter(lead_id=lead_id).exists():
                _maybe_unqualified_meeting(demo, lead_id, person, touches)
            return
        ended_at = _work_episode(demo, lead_id, person, episode)
        if ended_at is None:
            return
        touches = touches + _record(demo, person, _comeback_touches(demo, person, ended_at))


def _work_episode(demo: Demo, lead_id: int, person: Person, episode: Qualification) -> datetime | None:
    """Play out an open episode; returns when it ended, or None while open or once won."""
    bucket = episode.bucket
    if demo.rng.random() >= BOOKING_CHANCE[bucket] * SOURCE_BOOKING_FACTOR[person.source]:
        return _recycle_when_due(demo, lead_id, episode)
    booked_at = episode.qualified_at + timedelta(days=min(demo.rng.expovariate(1 / BOOKING_DELAY_DAYS[bucket]), 14))
    return _work_opportunity(demo, person, booked_at, bucket)


def _recycle_when_due(demo: Demo, lead_id: int, episode: Qualification) -> datetime | None:
    due = episode.qualified_at + RECYCLE_AFTER
    if due >= demo.now:
        return None
    qualification_recycle(lead_id=lead_id, actor=CLASSIFIER, at=due, reason="No opportunity within 45 days")
    return due


def _maybe_unqualified_meeting(demo: Demo, lead_id: int, person: Person, touches: list[Touch]) -> None:
    fit = Lead.objects.values_list("fit_score", flat=True).get(pk=lead_id)
    if not touches or (fit or 0) >= DEMO_RULESET["fit_threshold"]:
        return
    asked_for_sales = any(touch.name in HIGH_INTENT for touch in touches)
    if demo.rng.random() < UNQUALIFIED_MEETING_CHANCE[asked_for_sales]:
        last_touch_at = max(touch.at for touch in touches)
        _work_opportunity(demo, person, last_touch_at + demo.days(0.2, 5), UNQUALIFIED_BUCKET)


def _work_opportunity(demo: Demo, person: Person, booked_at: datetime, bucket: str) -> datetime | None:
    """Book the meeting and let the rep decide; returns when it closed without a win, else None."""
    if booked_at >= demo.now:
        return None
    scheduled_for = booked_at + demo.days(1, 5)
    booking = meeting_book(
        email=person.email,
        actor=CRM,
        booked_at=booked_at,
        scheduled_for=scheduled_for,
        source_system=SOURCE_SYSTEM,
        external_id=demo.next_id("meeting"),
    )
    if booking.opportunity is None:
        raise RuntimeError(f"The demo booking for {person.email} opened no opportunity.")
    opportunity_id = booking.opportunity.pk
    demo.owners.setdefault(demo.rng.choice(demo.rep_ids), []).append(opportunity_id)
    decided_at = scheduled_for + demo.days(0, 1)
    if decided_at >= demo.now:
        return None
    if demo.rng.random() >= QO_CHANCE[bucket]:
        reason = _pick(demo.rng, DISQUALIFY_REASONS)
        opportunity_disqualify(opportunity_id=opportunity_id, reason=reason, actor=CRM, at=decided_at)
        return decided_at
    opportunity_qualify(opportunity_id=opportunity_id, actor=CRM, at=decided_at)
    return _close(demo, opportunity_id, person, decided_at, won=demo.rng.random() < WIN_CHANCE[bucket])


def _close(demo: Demo, opportunity_id: int, person: Person, qualified_at: datetime, *, won: bool) -> datetime | None:
    closed_at = qualified_at + (demo.days(14, 42) if won else demo.days(10, 60))
    if closed_at >= demo.now:
        return None
    if won:
        opportunity_win(opportunity_id=opportunity_id, actor=CRM, amount=_amount(demo, person), at=closed_at)
        return None
    opportunity_lose(opportunity_id=opportunity_id, reason=_pick(demo.rng, LOSS_REASONS), actor=CRM, at=closed_at)
    return closed_at


def _amount(demo: Demo, person: Person) -> Decimal:
    seats = person.company.employee_count * demo.rng.uniform(0.05, 0.3) if person.company else demo.rng.uniform(3, 8)
    yearly = min(max(seats * 600, 4_800), 180_000)
    return Decimal(round(yearly, -2)).quantize(Decimal("1.00"))
