"""The rules editor's form: settings as fields, rule lists as JSON, one document out."""

import json
from typing import Any

from django import forms

from .scoring import RulesetInvalid

LIST_FIELDS = ("fit_rules", "intent_rules", "buckets")
JSON_WIDGET = forms.Textarea(attrs={"rows": 14, "cols": 100, "spellcheck": "false", "class": "code"})


class RulesetForm(forms.Form):
    name = forms.CharField(max_length=200)
    fit_threshold = forms.FloatField(help_text="A lead fits when its fit score reaches this.")
    intent_threshold = forms.FloatField(help_text="A fitting lead qualifies when its decayed intent reaches this.")
    half_life_days = forms.FloatField(
        required=False, min_value=0.001, help_text="Intent halves every this many days. Empty: no decay."
    )
    lookback_days = forms.FloatField(min_value=0.001, help_text="Older activities do not count at all.")
    recycle_after_days = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="Recycle an episode with no opportunity after this many days. Empty: never.",
    )
    fit_rules = forms.CharField(widget=JSON_WIDGET, label="Fit rules (JSON list)")
    intent_rules = forms.CharField(widget=JSON_WIDGET, label="Intent rules (JSON list)")
    buckets = forms.CharField(widget=JSON_WIDGET, label="Buckets, in order (JSON list)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""

    @classmethod
    def initial_from(cls, document: dict[str, Any]) -> dict[str, Any]:
        initial = {key: document.get(key) for key in cls.base_fields if key not in LIST_FIELDS}
        initial.setdefault("lookback_days", 90)
        for key in LIST_FIELDS:
            initial[key] = json.dumps(document.get(key, []), indent=2, ensure_ascii=False)
        return initial

    def _clean_list(self, key: str) -> list[Any]:
        try:
            value = json.loads(self.cleaned_data[key])
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"This is not valid JSON: {error.msg} (line {error.lineno}).") from None
        if not isinstance(value, list):
            raise forms.ValidationError("Give a JSON list: [ {...}, {...} ].")
        return value

    def clean_fit_rules(self) -> list[Any]:
        return self._clean_list("fit_rules")

    def clean_intent_rules(self) -> list[Any]:
        return self._clean_list("intent_rules")

    def clean_buckets(self) -> list[Any]:
        return self._clean_list("buckets")

    def document(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for key in ("fit_threshold", "intent_threshold", "half_life_days", "lookback_days"):
            value = data.get(key)
            if isinstance(value, float) and value.is_integer():
                data[key] = int(value)
        return data

    def add_ruleset_errors(self, invalid: RulesetInvalid) -> None:
        """Show each validation message on the field it concerns, with the path inside the list."""
        for path, messages in invalid.errors.items():
            field = next((key for key in self.fields if path == key or path.startswith(f"{key}[")), None)
            for message in messages:
                if field is None:
                    self.add_error(None, f"{path}: {message}")
                elif path == field:
                    self.add_error(field, message)
                else:
                    self.add_error(field, f"{path}: {message}")


class PreviewForm(forms.Form):
    weeks = forms.IntegerField(min_value=1, max_value=52, initial=8, label="Weeks")
