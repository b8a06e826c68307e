"""Signed webhooks: Calendly bookings, HubSpot form submissions, Intercom conversations.

Each view checks the body's size and type, verifies the signature against the signing keys of
that kind's active integrations (401 and no change when none matches), then calls one service.
"""

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ParseError

from access.api import json_error
from leads.choices import ActivityKind
from leads.errors import FunnelError
from leads.services import activity_record

from . import signatures
from .choices import IntegrationKind
from .http import body_limit, declared_length, parse_json
from .models import Integration
from .parsing import MAX_FUTURE, MAX_SCHEDULED_AHEAD, parse_email, parse_timestamp
from .services import calendly_invitee_canceled, calendly_invitee_created

Verifier = Callable[[HttpRequest, bytes, str], bool]
Handler = Callable[[Integration, Any], JsonResponse]


class PayloadError(Exception):
    """The signed payload lacks what the funnel needs (400)."""


def _signed_webhook(kind: str, verify: Verifier) -> Callable[[Handler], Callable[[HttpRequest], JsonResponse]]:
    def decorate(handle: Handler) -> Callable[[HttpRequest], JsonResponse]:
        @csrf_exempt
        @require_POST
        def view(request: HttpRequest) -> JsonResponse:
            if declared_length(request) > body_limit():
                return json_error(request, 413, "too_large", f"The request body is larger than {body_limit()} bytes.")
            if request.content_type != "application/json":
                return json_error(request, 415, "unsupported_media_type", "Send application/json.")
            try:
                body = request.body
            except RequestDataTooBig:
                return json_error(request, 413, "too_large", f"The request body is larger than {body_limit()} bytes.")
            integration = next(
                (
                    integration
                    for integration in Integration.objects.filter(kind=kind, active=True)
                    if verify(request, body, integration.secret)
                ),
                None,
            )
            if integration is None:
                return json_error(request, 401, "invalid_signature", "The signature is missing, wrong or too old.")
            try:
                payload = parse_json(body)
            except ParseError as error:
                return json_error(request, 400, "parse_error", str(error.detail))
            try:
                return handle(integration, payload)
            except (PayloadError, ValueError, FunnelError) as error:
                return json_error(request, 400, "invalid", str(error))

        return view

    return decorate


def _calendly_verify(request: HttpRequest, body: bytes, secret: str) -> bool:
    header = request.headers.get("Calendly-Webhook-Signature", "")
    return signatures.calendly_valid(header=header, body=body, secret=secret, now=time.time())


def _hubspot_verify(request: HttpRequest, body: bytes, secret: str) -> bool:
    return signatures.hubspot_v3_valid(
        signature=request.headers.get("X-HubSpot-Signature-v3", ""),
        timestamp_ms=request.headers.get("X-HubSpot-Request-Timestamp", ""),
        method=request.method or "POST",
        uri=request.build_absolute_uri(),
        body=body,
        secret=secret,
        now=time.time(),
    )


def _intercom_verify(request: HttpRequest, body: bytes, secret: str) -> bool:
    return signatures.intercom_valid(header=request.headers.get("X-Hub-Signature", ""), body=body, secret=secret)


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _required(data: Any, *path: str) -> Any:
    value = _get(data, *path)
    if value in (None, ""):
        raise PayloadError(f"The payload has no {'.'.join(path)}.")
    return value


def _moment(value: Any, *, max_future: timedelta = MAX_FUTURE) -> datetime:
    return parse_timestamp(value, now=timezone.now(), max_future=max_future)


@_signed_webhook(IntegrationKind.CALENDLY, _calendly_verify)
def calendly(integration: Integration, payload: Any) -> JsonResponse:
    event = _required(payload, "event")
    invitee = _required(payload, "payload")
    email = parse_email(_required(invitee, "email"))
    uri = str(_required(invitee, "uri"))[:255]
    booked_at = _moment(_required(invitee, "created_at"))
    if event == "invitee.created":
        start = _get(invitee, "scheduled_event", "start_time")
        booking = calendly_invitee_created(
            integration=integration,
            email=email,
            invitee_uri=uri,
            booked_at=booked_at,
            scheduled_for=_moment(start, max_future=MAX_SCHEDULED_AHEAD) if start else None,
        )
        opportunity_id = booking.opportunity.pk if booking.opportunity else None
        return JsonResponse({"opportunity_id": opportunity_id, "created": booking.created})
    if event == "invitee.canceled":
        canceled_at = _get(invitee, "cancellation", "created_at") or _required(invitee, "updated_at")
        activity, created = calendly_invitee_canceled(
            integration=integration,
            email=email,
            invitee_uri=uri,
            booked_at=booked_at,
            canceled_at=_moment(canceled_at),
            reason=str(_get(invitee, "cancellation", "reason") or "")[:500],
        )
        return JsonResponse({"id": activity.pk, "duplicate": not created})
    return JsonResponse({"ignored": f"event {event!r} is not one the funnel records"})


@_signed_webhook(IntegrationKind.HUBSPOT, _hubspot_verify)
def hubspot(integration: Integration, payload: Any) -> JsonResponse:
    """A form submission in the Forms API v3 format, recorded as a ``form`` activity."""
    fields = _required(payload, "fields")
    if not isinstance(fields, list):
        raise PayloadError("fields must be a list.")
    values = {str(field.get("name")): field.get("value") for field in fields if isinstance(field, dict)}
    email = parse_email(values.pop("email", None))
    submitted_ms = _get(payload, "submittedAt")
    try:
        occurred_at = datetime.fromtimestamp(int(submitted_ms) / 1000, tz=UTC) if submitted_ms else timezone.now()
    except (TypeError, ValueError, OverflowError):
        raise PayloadError("submittedAt must be a time in milliseconds since the epoch.") from None
    context = _get(payload, "context") or {}
    submission_id = _get(payload, "submissionId") or _get(payload, "conversionId")
    external_id = str(submission_id or hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest())
    activity, created = activity_record(
        email=email,
        kind=ActivityKind.FORM,
        name=str(_get(payload, "formName") or context.get("pageName") or "Form Submission")[:255],
        occurred_at=occurred_at,
        properties={"fields": values, "page_uri": context.get("pageUri"), "hutk": context.get("hutk")},
        source_system=IntegrationKind.HUBSPOT,
        external_id=external_id[:255],
    )
    return JsonResponse({"id": activity.pk, "duplicate": not created})


INTERCOM_AUTHORS = frozenset({"user", "lead", "contact"})


@_signed_webhook(IntegrationKind.INTERCOM, _intercom_verify)
def intercom(integration: Integration, payload: Any) -> JsonResponse:
    """A new conversation started by a user or lead, recorded once as a ``chat`` activity."""
    item = _required(payload, "data", "item")
    if _get(item, "type") != "conversation":
        return JsonResponse({"ignored": "not a conversation"})
    author = _get(item, "source", "author") or {}
    if author.get("type") not in INTERCOM_AUTHORS or not author.get("email"):
        return JsonResponse({"ignored": "the conversation names no user's e-mail"})
    created = _get(item, "created_at")
    try:
        occurred_at = datetime.fromtimestamp(int(created), tz=UTC) if created else timezone.now()
    except (TypeError, ValueError, OverflowError):
        raise PayloadError("created_at must be a Unix time.") from None
    activity, new = activity_record(
        email=parse_email(author["email"]),
        kind=ActivityKind.CHAT,
        name=str(_get(item, "source", "subject") or "Conversation Started")[:255],
        occurred_at=occurred_at,
        properties={"conversation_id": item.get("id"), "topic": _get(payload, "topic")},
        source_system=IntegrationKind.INTERCOM,
        external_id=f"conversation:{_required(item, 'id')}"[:255],
    )
    return JsonResponse({"id": activity.pk, "duplicate": not new})
