from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from access.decorators import role_required
from access.roles import Role

from . import selectors
from .choices import LeadStage, Source
from .models import Lead

LEADS_PER_PAGE = 50

STAGE_DESCRIPTIONS: dict[str, str] = {
    LeadStage.NEW: "Known to us, but fit or intent is still below the qualification bar.",
    LeadStage.QL: "Qualified lead: fits the ideal customer profile and has shown intent; no meeting booked yet.",
    LeadStage.OPPORTUNITY: "Booked a meeting with sales; a rep has not confirmed the fit yet.",
    LeadStage.QO: "Qualified opportunity: a rep confirmed the fit and the deal is being worked.",
    LeadStage.CUSTOMER: "Won a deal. New activity no longer counts towards new business.",
    LeadStage.RECYCLED: "The last episode or opportunity ended without a win; the lead can qualify again.",
}


class LeadFilterForm(forms.Form):
    search = forms.CharField(
        label="Search",
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "E-mail, company or domain"}),
    )
    stage = forms.ChoiceField(label="Stage", required=False, choices=[("", "All stages"), *LeadStage.choices])
    source = forms.ChoiceField(label="Source", required=False, choices=[("", "All sources"), *Source.choices])
    bucket = forms.ChoiceField(label="Bucket", required=False)

    def __init__(self, *args: Any, bucket_options: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        cast(forms.ChoiceField, self.fields["bucket"]).choices = [
            ("", "All buckets"),
            *((bucket, bucket) for bucket in bucket_options),
        ]

    def valid_filters(self) -> dict[str, str | None]:
        """Each filter's cleaned value; a value that is not one of the choices filters nothing."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or None for name in self.fields}


@role_required(Role.SALES_REP, Role.ANALYST)
def leads_list(request: HttpRequest) -> HttpResponse:
    form = LeadFilterForm(request.GET, bucket_options=selectors.lead_bucket_options())
    filters = form.valid_filters()
    page = Paginator(selectors.leads_for_list(**filters), LEADS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "is_filtered": any(filters.values()),
        "stage_descriptions": [(LeadStage(stage).label, text) for stage, text in STAGE_DESCRIPTIONS.items()],
        "selected_stage_description": STAGE_DESCRIPTIONS.get(filters["stage"] or ""),
        "report_time_zone": settings.REPORT_TIME_ZONE,
    }
    return render(request, "leads/list.html", context)


@role_required(Role.SALES_REP, Role.ANALYST)
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        lead = selectors.lead_detail(lead_id=pk)
    except Lead.DoesNotExist:
        raise Http404("No such lead.") from None
    context = {
        "lead": lead,
        "explanation": selectors.lead_explanation(lead_id=pk),
        "episodes": selectors.lead_episodes(lead_id=pk),
        "activities": selectors.lead_activities(lead_id=pk),
        # Read through the reverse relation: the leads app does not import the opportunities app.
        "opportunities": lead.opportunities.select_related("owner", "reason").order_by("-created_at"),
        "stage_description": STAGE_DESCRIPTIONS.get(lead.stage, ""),
        "report_time_zone": settings.REPORT_TIME_ZONE,
    }
    return render(request, "leads/detail.html", context)
