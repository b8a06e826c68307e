from typing import Any

from django import forms
from django.contrib.auth.models import User

from access.roles import Role

from .choices import ReasonUse
from .models import ReasonCode


def _reason_field(use: str) -> "forms.ModelChoiceField[ReasonCode]":
    return forms.ModelChoiceField(
        label="Reason",
        queryset=ReasonCode.objects.filter(active=True, used_for__in=[use, ReasonUse.BOTH]),
        to_field_name="code",
        empty_label="Choose a reason…",
    )


class DisqualifyForm(forms.Form):
    reason = forms.ModelChoiceField(queryset=ReasonCode.objects.none())
    note = forms.CharField(label="Note", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"] = _reason_field(ReasonUse.DISQUALIFY)


class LoseForm(DisqualifyForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"] = _reason_field(ReasonUse.LOSE)


class WinForm(forms.Form):
    amount = forms.DecimalField(label="Amount", required=False, min_value=0, max_digits=14, decimal_places=2)


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(
        label="Owner",
        queryset=User.objects.filter(groups__name=Role.SALES_REP, is_active=True).order_by("username"),
        required=False,
        empty_label="Nobody (unassigned)",
    )
