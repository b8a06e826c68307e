"""Turning untrusted JSON into validated service inputs, with one message per bad field."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from leads.choices import ActivityKind
from leads.ingest import ActivityInput

# A timestamp further ahead than this is a client bug, not clock skew.
MAX_FUTURE = timedelta(days=1)
# Meetings are booked ahead, but not by more than this.
MAX_SCHEDULED_AHEAD = timedelta(days=366)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
# More would overflow the database column; no company is that large.
MAX_EMPLOYEE_COUNT = 10_000_000
KINDS = frozenset(ActivityKind.values)

FieldErrors = dict[str, list[str]]


class InputError(Exception):
    """A value that cannot be used; ``fields`` names each bad field."""

    def __init__(self, fields: FieldErrors) -> None:
        super().__init__("invalid input")
        self.fields = fields


def parse_email(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("An e-mail address is required.")
    email = value.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValueError(f"'{value}' is not a valid e-mail address.") from None
    return email


def parse_timestamp(value: Any, *, now: datetime, max_future: timedelta = MAX_FUTURE) -> datetime:
    """An ISO 8601 timestamp with a UTC offset, no more than ``max_future`` ahead of ``now``."""
    if not isinstance(value, str):
        raise ValueError("Expected an ISO 8601 timestamp with a UTC offset.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not an ISO 8601 timestamp.") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("The timestamp must include a UTC offset (e.g. 'Z' or '+02:00').")
    if moment > now + max_future:
        raise ValueError("The timestamp is too far in the future.")
    if moment < EARLIEST:
        raise ValueError("The timestamp is too far in the past.")
    # Python accepts offsets up to 24 hours, PostgreSQL only up to 16; the instant is what is stored.
    return moment.astimezone(UTC)


def _text(value: Any, *, max_length: int, required: bool) -> str:
    if value is None or value == "":
        if required:
            raise ValueError("This field is required.")
        return ""
    if not isinstance(value, str):
        raise ValueError("Expected a string.")
    if len(value) > max_length:
        raise ValueError(f"At most {max_length} characters.")
    return value


def parse_activity(item: Any, *, now: datetime, default_source_system: str = "api") -> ActivityInput:
    """Validate one activity of the API's format; InputError names every bad field."""
    if not isinstance(item, dict):
        raise InputError({"non_field_errors": ["Expected a JSON object."]})
    errors: FieldErrors = {}
    values: dict[str, Any] = {}

    def check(name: str, parse: Any) -> None:
        try:
            values[name] = parse()
        except ValueError as error:
            errors[name] = [str(error)]

    check("email", lambda: parse_email(item.get("email")))
    check("kind", lambda: _kind(item.get("kind")))
    check("name", lambda: _text(item.get("name"), max_length=255, required=True))
    check(
        "occurred_at",
        lambda: now if item.get("occurred_at") is None else parse_timestamp(item["occurred_at"], now=now),
    )
    check("properties", lambda: _properties(item.get("properties")))
    check(
        "source_system",
        lambda: _text(item.get("source_system"), max_length=50, required=False) or default_source_system,
    )
    check("external_id", lambda: _external_id(item.get("external_id")))
    if errors:
        raise InputError(errors)
    return ActivityInput(**values)


def _kind(value: Any) -> str:
    if not isinstance(value, str) or value not in KINDS:
        raise ValueError(f"Unknown activity kind {value!r}; expected one of {', '.join(sorted(KINDS))}.")
    return str(value)


def _properties(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("Expected a JSON object.")
    return value


def _external_id(value: Any) -> str:
    if value is None or value == "":
        return uuid.uuid4().hex
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value, max_length=255, required=True)
