"""The actions a rep takes on the opportunity page: one form and one service each."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms

from .choices import OpportunityStage
from .forms import DisqualifyForm, LoseForm, WinForm
from .models import Opportunity
from .services import opportunity_disqualify, opportunity_lose, opportunity_qualify, opportunity_win


class ConfirmForm(forms.Form):
    pass


@dataclass(frozen=True)
class PageAction:
    key: str
    label: str
    done: str
    from_stages: tuple[str, ...]
    form: type[forms.Form]
    service: Callable[..., Opportunity]
    style: str = "button"

    def fields_for_service(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        fields = dict(cleaned)
        if "reason" in fields:
            fields["reason"] = fields["reason"].code
        return fields


ACTIONS = {
    action.key: action
    for action in (
        PageAction(
            "qualify",
            "Confirm qualified",
            "Confirmed as a qualified opportunity.",
            (OpportunityStage.OPEN,),
            ConfirmForm,
            opportunity_qualify,
            "button button--primary",
        ),
        PageAction(
            "disqualify",
            "Disqualify",
            "Disqualified.",
            (OpportunityStage.OPEN,),
            DisqualifyForm,
            opportunity_disqualify,
        ),
        PageAction(
            "win",
            "Mark won",
            "Marked won.",
            (OpportunityStage.OPEN, OpportunityStage.QUALIFIED),
            WinForm,
            opportunity_win,
        ),
        PageAction("lose", "Mark lost", "Marked lost.", (OpportunityStage.QUALIFIED,), LoseForm, opportunity_lose),
    )
}


def actions_for(opportunity: Opportunity) -> list[PageAction]:
    return [action for action in ACTIONS.values() if opportunity.stage in action.from_stages]
