"""Parsing the weekly report's query parameters, shared by the API, the CSV export and the dashboard."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from rest_framework import serializers

from .choices import SLICE_DIMENSIONS, Dimension
from .selectors import report_time_zone
from .stats import iso_week_label, parse_iso_week, week_monday

DEFAULT_WEEKS = 12
SLICE_CHOICES = [(dimension.value, dimension.label) for dimension in SLICE_DIMENSIONS]
MAX_WEEKS = 260


@dataclass(frozen=True)
class WeekRange:
    first_monday: date
    last_monday: date
    dimension: str

    @property
    def first_week(self) -> str:
        return iso_week_label(self.first_monday)

    @property
    def last_week(self) -> str:
        return iso_week_label(self.last_monday)


class IsoWeekField(serializers.Field[date, str, str, Any]):
    """An ISO week label such as ``2026-W07``, read as its Monday."""

    def to_internal_value(self, data: str) -> date:
        try:
            return parse_iso_week(str(data))
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from error

    def to_representation(self, value: date) -> str:
        return iso_week_label(value)


class WeekRangeSerializer(serializers.Serializer[WeekRange]):
    """``from`` and ``to`` are ISO weeks (default: the 12 weeks up to the current one)."""

    to = IsoWeekField(required=False)
    dimension = serializers.ChoiceField(choices=[str(choice) for choice in SLICE_DIMENSIONS], required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = IsoWeekField(required=False)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        last: date = attrs.get("to") or week_monday(timezone.now(), report_time_zone())
        first: date = attrs.get("from") or last - timedelta(weeks=DEFAULT_WEEKS - 1)
        if first > last:
            raise serializers.ValidationError({"from": ["The first week must not come after the last."]})
        if (last - first).days // 7 + 1 > MAX_WEEKS:
            raise serializers.ValidationError({"from": [f"At most {MAX_WEEKS} weeks at a time."]})
        return {"from": first, "to": last, "dimension": attrs.get("dimension") or Dimension.SOURCE}


def parse_week_range(data: object) -> WeekRange:
    """The validated range, or ``serializers.ValidationError`` naming each bad parameter."""
    serializer = WeekRangeSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    values = serializer.validated_data
    return WeekRange(first_monday=values["from"], last_monday=values["to"], dimension=str(values["dimension"]))


class WeekInput(forms.TextInput):
    input_type = "week"


class DashboardFilterForm(forms.Form):
    """The dashboard's filters; they live in the URL so a view can be shared."""

    to = forms.CharField(label="To week", required=False, widget=WeekInput)
    week = forms.CharField(label="Selected week", required=False, widget=WeekInput)
    dimension = forms.ChoiceField(
        label="Break down by", required=False, choices=[(str(value), label) for value, label in SLICE_CHOICES]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = dict(self.fields)
        self.fields = {"from": forms.CharField(label="From week", required=False, widget=WeekInput), **fields}

    def _week(self, name: str) -> date | None:
        value = self.cleaned_data.get(name) or ""
        if not value:
            return None
        try:
            return parse_iso_week(value)
        except ValueError as error:
            self.add_error(name, str(error))
            return None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        last = self._week("to") or week_monday(timezone.now(), report_time_zone())
        first = self._week("from") or last - timedelta(weeks=DEFAULT_WEEKS - 1)
        if first > last:
            self.add_error("from", "The first week must not come after the last.")
            first = last - timedelta(weeks=DEFAULT_WEEKS - 1)
        elif (last - first).days // 7 + 1 > MAX_WEEKS:
            self.add_error("from", f"At most {MAX_WEEKS} weeks at a time.")
            first = last - timedelta(weeks=MAX_WEEKS - 1)
        selected = self._week("week") or last
        if not first <= selected <= last:
            self.add_error("week", "The selected week must lie within the range.")
            selected = last
        cleaned["range"] = WeekRange(
            first_monday=first, last_monday=last, dimension=cleaned.get("dimension") or Dimension.SOURCE
        )
        cleaned["selected"] = selected
        return cleaned

    def week_range(self) -> tuple[WeekRange, date]:
        """The range and selected week; any bad value falls back to its default (and shows its error)."""
        self.is_valid()
        return self.cleaned_data["range"], self.cleaned_data["selected"]
