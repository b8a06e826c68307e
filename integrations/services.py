"""Writes of the integrations app: integrations and their secrets, and the Segment-compatible door."""

import io
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from jobs.services import (
    job_advance,
    job_create,
    job_enqueue_on_commit,
    job_fail,
    job_is_finished,
    job_start,
    job_succeed,
)
from leads.choices import CHANNEL_OF_KIND, ActivityKind
from leads.errors import InvalidInput
from leads.ingest import ActivityInput, activities_record_batch
from leads.models import Activity, Lead
from leads.services import CompanyData, activity_record, lead_upsert
from leads.transitions import Actor
from opportunities.services import Booking, meeting_book

from .choices import IntegrationKind
from .history import ImportReport, history_import, read_rows
from .models import ImportIssue, ImportIssueLevel, ImportRun, Integration, PendingSegmentEvent, SegmentIdentity
from .olist import olist_records
from .parsing import MAX_EMPLOYEE_COUNT, InputError, parse_email, parse_timestamp

SEGMENT_SOURCE_SYSTEM = "segment"
MEETING_CANCELED = "Meeting Canceled"
SEGMENT_TYPES = frozenset({"identify", "track", "group", "page", "screen", "alias"})
# Calls Funnel accepts without storing: they carry nothing the funnel counts.
SEGMENT_IGNORED_TYPES = frozenset({"page", "screen", "alias"})


@transaction.atomic
def integration_create(*, kind: str, name: str) -> Integration:
    """A new integration with a fresh random secret (a Segment write key or a webhook signing key)."""
    if kind not in IntegrationKind.values:
        raise InvalidInput(f"Unknown integration kind '{kind}'.", field="kind")
    if not name.strip():
        raise InvalidInput("A name is required.", field="name")
    try:
        with transaction.atomic():
            return Integration.objects.create(kind=kind, name=name.strip(), secret=secrets.token_urlsafe(32))
    except IntegrityError:
        raise InvalidInput(f"A {kind} integration named '{name}' already exists.", field="name") from None


@dataclass(frozen=True)
class SegmentMessage:
    type: str
    message_id: str
    user_id: str
    timestamp: datetime
    raw: dict[str, Any]


@dataclass
class SegmentOutcome:
    created: int = 0
    duplicates: int = 0
    pending: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def segment_parse(raw: Any, *, now: datetime) -> SegmentMessage:
    """Validate one call of the Segment HTTP Tracking API format; InputError names each bad field."""
    if not isinstance(raw, dict):
        raise InputError({"non_field_errors": ["Expected a JSON object."]})
    errors: dict[str, list[str]] = {}
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in SEGMENT_TYPES:
        errors["type"] = [f"Unknown call type {kind!r}."]
        kind = None
    message_id = raw.get("messageId")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 255:
        errors["messageId"] = ["A messageId (a string of at most 255 characters) is required."]
    user_id = raw.get("userId")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if kind not in SEGMENT_IGNORED_TYPES and (not isinstance(user_id, str) or not user_id or len(user_id) > 255):
        errors["userId"] = ["A userId is required."]
    timestamp = now
    if raw.get("timestamp") is not None:
        try:
            timestamp = parse_timestamp(raw["timestamp"], now=now)
        except ValueError as error:
            errors["timestamp"] = [str(error)]
    if kind == "track" and (not isinstance(raw.get("event"), str) or not raw["event"] or len(raw["event"]) > 255):
        errors["event"] = ["An event name (at most 255 characters) is required."]
    for name in ("properties", "traits"):
        if raw.get(name) is not None and not isinstance(raw[name], dict):
            errors[name] = ["Expected a JSON object."]
    traits: dict[str, Any] = raw["traits"] if isinstance(raw.get("traits"), dict) else {}
    if kind == "identify":
        try:
            parse_email(traits.get("email"))
        except ValueError as error:
            errors["traits.email"] = [str(error)]
    if kind == "group":
        try:
            _company_from_traits(traits)
        except ValueError as error:
            errors["traits.domain"] = [str(error)]
    if errors:
        raise InputError(errors)
    return SegmentMessage(
        type=str(kind), message_id=str(message_id), user_id=str(user_id or ""), timestamp=timestamp, raw=raw
    )


def _company_from_traits(traits: dict[str, Any]) -> CompanyData:
    domain = traits.get("domain") or traits.get("website")
    if not isinstance(domain, str) or "." not in domain:
        raise ValueError("A group needs traits.domain or traits.website naming the company's web domain.")
    employees = traits.get("employees", traits.get("employee_count"))
    known = {"domain", "website", "name", "employees", "employee_count", "industry", "country"}
    country = traits.get("country")
    return CompanyData(
        domain=domain,
        name=str(traits["name"])[:255] if traits.get("name") else None,
        employee_count=int(employees)
        if isinstance(employees, int | float) and 0 <= employees <= MAX_EMPLOYEE_COUNT
        else None,
        industry=str(traits["industry"])[:100].lower() if traits.get("industry") else None,
        country=country if isinstance(country, str) and len(country) == 2 else None,
        traits={key: value for key, value in traits.items() if key not in known},
    )


def _activity_from_track(message: SegmentMessage, email: str) -> ActivityInput:
    properties = message.raw.get("properties") or {}
    kind = properties.get("activity_kind")
    return ActivityInput(
        email=email,
        kind=kind if kind in ActivityKind.values else ActivityKind.PRODUCT,
        name=message.raw["event"],
        occurred_at=message.timestamp,
        source_system=SEGMENT_SOURCE_SYSTEM,
        external_id=message.message_id,
        properties=properties,
    )


@dataclass(frozen=True)
class _Profile:
    email: str
    first_name: str | None
    last_name: str | None
    title: str | None
    traits: dict[str, Any]


def _profile(message: SegmentMessage) -> _Profile:
    traits = dict(message.raw.get("traits") or {})
    email = parse_email(traits.pop("email"))
    first_name, last_name = traits.pop("firstName", None), traits.pop("lastName", None)
    full_name = traits.pop("name", None)
    if isinstance(full_name, str) and first_name is None and last_name is None:
        first_name, _, last_name = full_name.strip().partition(" ")
    title = traits.pop("title", None)
    return _Profile(
        email=email,
        first_name=str(first_name)[:150] if first_name else None,
        last_name=str(last_name)[:150] if last_name else None,
        title=str(title)[:255] if title else None,
        traits=traits,
    )


def _identify(integration: Integration, message: SegmentMessage) -> Lead:
    profile = _profile(message)
    identity = (
        SegmentIdentity.objects.select_for_update()
        .select_related("lead")
        .filter(integration=integration, user_id=message.user_id)
        .first()
    )
    if identity is not None and identity.identified_at is not None and message.timestamp < identity.identified_at:
        return _identify_late(identity.lead, profile, at=message.timestamp)
    lead, _ = lead_upsert(
        email=profile.email,
        first_name=profile.first_name,
        last_name=profile.last_name,
        title=profile.title,
        traits=profile.traits,
        created_at=message.timestamp,
    )
    SegmentIdentity.objects.update_or_create(
        integration=integration, user_id=message.user_id, defaults={"lead": lead, "identified_at": message.timestamp}
    )
    return lead


def _identify_late(lead: Lead, profile: _Profile, *, at: datetime) -> Lead:
    """An identify older than one already applied fills only what the newer one left empty,
    so the lead ends as if the two had arrived in order."""
    lead, _ = lead_upsert(
        email=lead.email,
        first_name=None if lead.first_name else profile.first_name,
        last_name=None if lead.last_name else profile.last_name,
        title=None if lead.title else profile.title,
        traits={key: value for key, value in profile.traits.items() if key not in lead.traits},
        created_at=at,
    )
    return lead


def _group(lead: Lead, message: SegmentMessage) -> None:
    lead_upsert(email=lead.email, company=_company_from_traits(message.raw.get("traits") or {}))


@transaction.atomic
def segment_receive(
    *, integration: Integration, messages: list[SegmentMessage], now: datetime, replay_user_ids: Iterable[str] = ()
) -> SegmentOutcome:
    """Apply parsed Segment calls: identifies first, then groups, then tracks in bulk.

    A track or group for a ``userId`` not identified yet is kept, and applied when an identify
    names that user (or by the sweep, for ``replay_user_ids``). Track calls are idempotent on
    (``segment``, ``messageId``).
    """
    outcome = SegmentOutcome()
    identified: dict[str, Lead] = {}
    for message in messages:
        if message.type == "identify":
            identified[message.user_id] = _identify(integration, message)
    replayed = _take_pending(integration, sorted({*identified, *replay_user_ids}))
    rest = [m for m in messages if m.type in ("group", "track")]
    user_ids = {m.user_id for m in [*replayed, *rest]} - set(identified)
    known = SegmentIdentity.objects.filter(integration=integration, user_id__in=user_ids).select_related("lead")
    identified.update({identity.user_id: identity.lead for identity in known})
    tracks: list[ActivityInput] = []
    pending: list[PendingSegmentEvent] = []
    for message in [*replayed, *rest]:
        lead = identified.get(message.user_id)
        if lead is None:
            pending.append(
                PendingSegmentEvent(
                    integration=integration, user_id=message.user_id, message_id=message.message_id, payload=message.raw
                )
            )
        elif message.type == "group":
            _group(lead, message)
        else:
            tracks.append(_activity_from_track(message, lead.email))
    if pending:
        PendingSegmentEvent.objects.bulk_create(pending, ignore_conflicts=True)
        outcome.pending = len(pending)
    if tracks:
        batch = activities_record_batch(activities=tracks, recorded_at=now)
        outcome.created, outcome.duplicates = batch.created, batch.duplicates
    return outcome


def segment_pending_replay(*, now: datetime, limit: int = 1000) -> int:
    """Apply kept calls whose user has been identified since: an identify and a call for the same
    new user that arrive at the same moment can miss each other. Returns how many users were swept."""
    identified = SegmentIdentity.objects.filter(integration=OuterRef("integration"), user_id=OuterRef("user_id"))
    pairs = list(
        PendingSegmentEvent.objects.filter(Exists(identified))
        .values_list("integration_id", "user_id")
        .distinct()
        .order_by("integration_id", "user_id")[:limit]
    )
    by_integration: dict[int, list[str]] = {}
    for integration_id, user_id in pairs:
        by_integration.setdefault(integration_id, []).append(user_id)
    for integration in Integration.objects.filter(pk__in=by_integration):
        segment_receive(integration=integration, messages=[], now=now, replay_user_ids=by_integration[integration.pk])
    return len(pairs)


def _take_pending(integration: Integration, user_ids: list[str]) -> list[SegmentMessage]:
    """Remove and return the kept calls of these newly identified users, oldest first."""
    if not user_ids:
        return []
    rows = list(
        PendingSegmentEvent.objects.select_for_update()
        .filter(integration=integration, user_id__in=user_ids)
        .order_by("received_at", "pk")
    )
    PendingSegmentEvent.objects.filter(pk__in=[row.pk for row in rows]).delete()
    messages = []
    for row in rows:
        timestamp = row.payload.get("timestamp")
        messages.append(
            SegmentMessage(
                type=row.payload["type"],
                message_id=row.message_id,
                user_id=row.user_id,
                timestamp=datetime.fromisoformat(timestamp) if timestamp else row.received_at,
                raw=row.payload,
            )
        )
    return messages


def integration_actor(integration: Integration) -> Actor:
    return Actor.integration(f"{integration.kind}:{integration.name}")


def calendly_invitee_created(
    *, integration: Integration, email: str, invitee_uri: str, booked_at: datetime, scheduled_for: datetime | None
) -> Booking:
    """A Calendly booking books a meeting; a redelivered invitee returns the first booking."""
    return meeting_book(
        email=email,
        actor=integration_actor(integration),
        booked_at=booked_at,
        scheduled_for=scheduled_for,
        source_system=IntegrationKind.CALENDLY,
        external_id=invitee_uri,
    )


@transaction.atomic
def calendly_invitee_canceled(
    *, integration: Integration, email: str, invitee_uri: str, booked_at: datetime, canceled_at: datetime, reason: str
) -> tuple[Activity, bool]:
    """A canceled Calendly booking is a ``Meeting Canceled`` activity, recorded once per invitee.

    A cancellation delivered before its booking creates the lead as the booking would have (the
    meeting's channel, the booking time), so the lead ends the same in either order.
    """
    lead_upsert(email=email, source=CHANNEL_OF_KIND[ActivityKind.MEETING], created_at=booked_at)
    return activity_record(
        email=email,
        kind=ActivityKind.OTHER,
        name=MEETING_CANCELED,
        occurred_at=canceled_at,
        properties={"invitee": invitee_uri, "reason": reason},
        source_system=IntegrationKind.CALENDLY,
        external_id=f"{invitee_uri}#canceled",
    )


def _import_actor(name: str) -> Actor:
    return Actor.integration(f"import:{name}"[:150])


@transaction.atomic
def import_run_create(*, file_name: str, content: str, user: AbstractBaseUser | None) -> ImportRun:
    """Keep an uploaded CSV and queue its import as a job with progress."""
    job = job_create(kind="history_import", parameters={"file_name": file_name}, user=user)
    run = ImportRun.objects.create(job=job, file_name=file_name[:255], content=content)
    job_enqueue_on_commit(job=job, task_name="integrations.tasks.run_history_import", args=[run.pk])
    return run


def import_run_execute(*, run_id: int) -> int:
    """Import a kept CSV, recording progress on its job and every warning and error by line."""
    run = ImportRun.objects.get(pk=run_id)
    job_id = run.job_id
    if job_id is not None and job_is_finished(job_id=job_id):
        return 0
    # Split where the csv module does; str.splitlines() also splits at characters like U+2028 inside cells.
    lines = io.StringIO(run.content, newline="").readlines()
    if job_id is not None:
        job_start(job_id=job_id, total=max(len(lines) - 1, 0), message="Importing.")
    ImportIssue.objects.filter(run=run).delete()
    try:
        report = history_import(
            records=read_rows(lines),
            actor=_import_actor(run.file_name),
            on_chunk=(lambda rows: job_advance(job_id=job_id, by=rows)) if job_id is not None else None,
        )
    except Exception as error:
        if job_id is not None:
            job_fail(job_id=job_id, message=f"The import stopped: {error}")
        raise
    ImportIssue.objects.bulk_create(
        [
            ImportIssue(run=run, line=line, level=ImportIssueLevel.WARNING, message=text[:500])
            for line, text in report.warnings
        ]
        + [
            ImportIssue(run=run, line=line, level=ImportIssueLevel.ERROR, message=text[:500])
            for line, text in report.errors
        ]
    )
    ImportRun.objects.filter(pk=run.pk).update(imported=report.imported)
    if job_id is not None:
        job_succeed(
            job_id=job_id,
            result={"imported": report.imported, "warnings": len(report.warnings), "errors": len(report.errors)},
            message=f"Imported {report.imported} rows; {len(report.warnings)} warnings, {len(report.errors)} errors.",
        )
    return report.imported


def history_import_file(*, lines: Iterable[str], name: str) -> ImportReport:
    """``import_history FILE.csv``: import synchronously and report."""
    return history_import(records=read_rows(lines), actor=_import_actor(name))


def olist_import(*, mqls: Path, deals: Path) -> ImportReport:
    """``import_olist``: the Olist marketing funnel as history, through the same import."""
    return history_import(records=olist_records(mqls=mqls, deals=deals), actor=_import_actor("olist"))
