"""Set-based ingestion: many activities in a few statements, leads created as they are first seen.

The rows go in with ``INSERT ... ON CONFLICT DO NOTHING ... RETURNING``: the idempotency key
(``source_system``, ``external_id``) decides what is new, and a redelivered batch changes
nothing. PostgreSQL and SQLite (3.35+) both run the same statement.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.db.models.fields.json import JSONField

from .choices import CHANNEL_OF_KIND
from .classification import request_classification
from .models import Account, Activity, FreeMailDomain, Lead

INSERT_CHUNK = 500
IDEMPOTENCY_KEY = ("source_system", "external_id")


@dataclass(frozen=True)
class ActivityInput:
    """One validated activity: ``email`` already trimmed and lower-cased, ``occurred_at`` aware."""

    email: str
    kind: str
    name: str
    occurred_at: datetime
    source_system: str
    external_id: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchOutcome:
    created: int
    duplicates: int
    lead_ids: dict[str, int]


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _row_template(model: type[Model]) -> dict[str, Any]:
    """Database values of a new row with every default, by column, as ``bulk_create`` would prepare them."""
    instance = model()
    return {
        str(field.column): field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in model._meta.concrete_fields
        if not field.primary_key
    }


def _insert_returning(
    model: type[Model], rows: Sequence[dict[str, Any]], *, conflict: Sequence[str], returning: Sequence[str]
) -> list[tuple[Any, ...]]:
    """``INSERT ... ON CONFLICT (conflict) DO NOTHING RETURNING returning``, in chunks; the new rows' values."""
    if not rows:
        return []
    quote = connection.ops.quote_name
    columns = list(rows[0])
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(column) for column in columns)}) VALUES "
    tail = (
        f" ON CONFLICT ({', '.join(quote(column) for column in conflict)}) DO NOTHING"
        f" RETURNING {', '.join(quote(column) for column in returning)}"
    )
    inserted: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, INSERT_CHUNK):
            cursor.execute(
                head + ", ".join([placeholders] * len(chunk)) + tail,
                [row[column] for row in chunk for column in columns],
            )
            inserted.extend(cursor.fetchall())
    return inserted


def _account_ids_for_domains(domains: set[str]) -> dict[str, int]:
    """Accounts of business e-mail domains, created when missing; free-mail domains get none."""
    candidates = sorted({d.removeprefix("www.") for d in domains if d and "." in d})
    ids = dict(Account.objects.filter(domain__in=candidates).values_list("domain", "pk"))
    missing = set(candidates) - set(ids)
    missing -= set(FreeMailDomain.objects.filter(domain__in=missing).values_list("domain", flat=True))
    if missing:
        template = _row_template(Account)
        rows = [{**template, "domain": domain} for domain in sorted(missing)]
        ids.update(_insert_returning(Account, rows, conflict=["domain"], returning=["domain", "id"]))
        ids.update(Account.objects.filter(domain__in=missing - set(ids)).values_list("domain", "pk"))
    return ids


def leads_ensure(*, first_touches: Mapping[str, tuple[str, datetime]]) -> dict[str, int]:
    """Ids of the leads with these (normalized) e-mails, creating the missing ones.

    ``first_touches`` maps each e-mail to the activity kind and time of its first touch: a new
    lead's first-touch source is that activity's channel and it is created at that time.
    """
    emails = sorted(first_touches)
    ids: dict[str, int] = {}
    for chunk in _chunks(emails, INSERT_CHUNK):
        ids.update(Lead.objects.filter(email__in=chunk).values_list("email", "pk"))
    missing = [email for email in emails if email not in ids]
    if not missing:
        return ids
    accounts = _account_ids_for_domains({email.rsplit("@", 1)[-1] for email in missing})
    template = _row_template(Lead)
    rows = []
    for email in missing:
        kind, moment = first_touches[email]
        rows.append(
            {
                **template,
                "email": email,
                "source": CHANNEL_OF_KIND[kind],
                "created_at": connection.ops.adapt_datetimefield_value(moment),
                "account_id": accounts.get(email.rsplit("@", 1)[-1].removeprefix("www.")),
            }
        )
    ids.update(_insert_returning(Lead, rows, conflict=["email"], returning=["email", "id"]))
    raced = [email for email in missing if email not in ids]
    for chunk in _chunks(raced, INSERT_CHUNK):
        ids.update(Lead.objects.filter(email__in=chunk).values_list("email", "pk"))
    return ids


@transaction.atomic
def activities_record_batch(*, activities: Sequence[ActivityInput], recorded_at: datetime) -> BatchOutcome:
    """Store many activities at once; each idempotency key is stored once, however often it comes.

    Leads are created for unknown e-mails, and every lead that got a new activity is queued for
    classification once, after commit.
    """
    unique: dict[tuple[str, str], ActivityInput] = {}
    for activity in activities:
        unique.setdefault((activity.source_system, activity.external_id), activity)
    first_touches: dict[str, tuple[str, datetime]] = {}
    for activity in unique.values():
        known = first_touches.get(activity.email)
        if known is None or activity.occurred_at < known[1]:
            first_touches[activity.email] = (activity.kind, activity.occurred_at)
    lead_ids = leads_ensure(first_touches=first_touches)
    ops = connection.ops
    json_field = Activity._meta.get_field("properties")
    assert isinstance(json_field, JSONField)
    template = {**_row_template(Activity), "recorded_at": ops.adapt_datetimefield_value(recorded_at)}
    rows = [
        {
            **template,
            "lead_id": lead_ids[activity.email],
            "kind": activity.kind,
            "name": activity.name,
            "properties": ops.adapt_json_value(activity.properties, json_field.encoder),
            "occurred_at": ops.adapt_datetimefield_value(activity.occurred_at),
            "source_system": activity.source_system,
            "external_id": activity.external_id,
        }
        for _key, activity in sorted(unique.items())
    ]
    touched = [row[0] for row in _insert_returning(Activity, rows, conflict=IDEMPOTENCY_KEY, returning=["lead_id"])]
    request_classification(touched)
    return BatchOutcome(created=len(touched), duplicates=len(activities) - len(touched), lead_ids=lead_ids)
