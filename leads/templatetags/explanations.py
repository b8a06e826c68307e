"""Filters for explanation objects, whose times are ISO 8601 strings."""

from datetime import datetime

from django import template

register = template.Library()


@register.filter
def iso_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 string as a datetime, so templates can format it with ``date``."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
