from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from access.decorators import role_required
from access.roles import Role, has_role
from leads.choices import Source
from leads.errors import FunnelError, IllegalTransition
from leads.selectors import lead_timeline
from leads.transitions import Actor

from . import queue, selectors
from .assignment import opportunity_reassign
from .choices import OPEN_STAGES, UNQUALIFIED_BUCKET, OpportunityStage
from .forms import ReassignForm
from .models import Opportunity
from .page_actions import ACTIONS, actions_for
from .permissions import may_act_on, require_may_act

OPPORTUNITIES_PER_PAGE = 50
MINE = "mine"
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class StageTab:
    key: str
    label: str
    stages: tuple[str, ...] | None
    description: str


STAGE_TABS = (
    StageTab("", "Working set", OPEN_STAGES, "Open and qualified opportunities: every deal still in play."),
    StageTab("open", "Open", (OpportunityStage.OPEN,), "A meeting is booked; the rep has not confirmed the fit yet."),
    StageTab(
        "qualified",
        "Qualified (QO)",
        (OpportunityStage.QUALIFIED,),
        "Qualified opportunity: the rep confirmed the fit and is working the deal.",
    ),
    StageTab("won", "Closed won", (OpportunityStage.WON,), "The deal was won and the lead became a customer."),
    StageTab("lost", "Closed lost", (OpportunityStage.LOST,), "A qualified deal that was lost, with the reason."),
    StageTab(
        "disqualified",
        "Disqualified",
        (OpportunityStage.DISQUALIFIED,),
        "Rejected by the rep before qualification, with the reason.",
    ),
    StageTab("all", "All", None, "Every opportunity, whatever its stage."),
)
TABS_BY_KEY = {tab.key: tab for tab in STAGE_TABS}


class OpportunityFilterForm(forms.Form):
    stage = forms.ChoiceField(required=False, choices=[(tab.key, tab.label) for tab in STAGE_TABS])
    owner = forms.ChoiceField(
        label="Owner", required=False, choices=[("", "Anyone"), (MINE, "Mine"), (UNASSIGNED, "Unassigned")]
    )
    bucket = forms.ChoiceField(label="Bucket", required=False)

    def __init__(self, *args: Any, bucket_options: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.fields["stage"].widget = forms.HiddenInput()
        cast(forms.ChoiceField, self.fields["bucket"]).choices = [
            ("", "All buckets"),
            *((bucket, bucket) for bucket in bucket_options),
        ]

    def valid_filters(self) -> dict[str, str]:
        """Each filter's cleaned value; a value that is not one of the choices filters nothing."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}


@dataclass(frozen=True)
class OpportunityRow:
    pk: int
    email: str
    company: str
    domain: str
    stage: str
    stage_label: str
    bucket: str
    unqualified: bool
    source: str
    sub_source: str
    owner: str
    booked_at: datetime
    qualified_at: datetime | None
    closed_at: datetime | None
    outcome: str
    outcome_is_amount: bool

    @classmethod
    def of(cls, opportunity: Any) -> "OpportunityRow":
        """``opportunity`` comes from ``selectors.opportunities_for_list``, with its funnel slice annotated."""
        account = opportunity.lead.account
        return cls(
            pk=opportunity.pk,
            email=opportunity.lead.email,
            company=account.name if account else "",
            domain=account.domain if account else "",
            stage=opportunity.stage,
            stage_label=opportunity.get_stage_display(),
            bucket=opportunity.funnel_bucket,
            unqualified=opportunity.qualification_id is None,
            source=Source(opportunity.funnel_source).label,
            sub_source=opportunity.funnel_sub_source,
            owner=_person(opportunity.owner),
            booked_at=opportunity.created_at,
            qualified_at=opportunity.qualified_at,
            closed_at=opportunity.closed_at,
            outcome=_outcome(opportunity),
            outcome_is_amount=opportunity.amount is not None,
        )


def _person(user: User | None) -> str:
    if user is None:
        return "Unassigned"
    return user.get_full_name() or user.get_username()


def _outcome(opportunity: Opportunity) -> str:
    if opportunity.amount is not None:
        return f"{opportunity.amount:,.2f}"
    if opportunity.reason is not None:
        return opportunity.reason.label
    return ""


def _tab_count(tab: StageTab, counts: dict[str, int]) -> int:
    return sum(count for stage, count in counts.items() if tab.stages is None or stage in tab.stages)


@role_required(Role.SALES_REP, Role.ANALYST)
def opportunities_list(request: HttpRequest) -> HttpResponse:
    form = OpportunityFilterForm(request.GET, bucket_options=selectors.opportunity_bucket_options())
    filters = form.valid_filters()
    scope: dict[str, Any] = {
        "owner_id": request.user.pk if filters["owner"] == MINE else None,
        "unassigned": filters["owner"] == UNASSIGNED,
        "bucket": filters["bucket"] or None,
    }
    active_tab = TABS_BY_KEY[filters["stage"]]
    opportunities = selectors.opportunities_for_list(stages=active_tab.stages, **scope)
    page = Paginator(opportunities, OPPORTUNITIES_PER_PAGE).get_page(request.GET.get("page"))
    counts = selectors.opportunity_stage_counts(**scope)
    context = {
        "form": form,
        "page": page,
        "rows": [OpportunityRow.of(opportunity) for opportunity in page],
        "tabs": [
            {
                "param": tab.key or None,
                "label": tab.label,
                "count": _tab_count(tab, counts),
                "active": tab == active_tab,
            }
            for tab in STAGE_TABS
        ],
        "active_tab": active_tab,
        "is_filtered": bool(filters["owner"] or filters["bucket"]),
        "report_time_zone": settings.REPORT_TIME_ZONE,
    }
    return render(request, "opportunities/list.html", context)


def _opportunity_or_404(pk: int) -> Opportunity:
    try:
        return selectors.opportunity_for_page(opportunity_id=pk)
    except Opportunity.DoesNotExist:
        raise Http404("No such opportunity.") from None


def _detail_context(
    request: HttpRequest, opportunity: Any, bound: dict[str, forms.Form] | None = None
) -> dict[str, Any]:
    can_act = may_act_on(request.user, opportunity)
    bound = bound or {}
    return {
        "opportunity": opportunity,
        "row": OpportunityRow.of(opportunity),
        "lead": opportunity.lead,
        "account": opportunity.lead.account,
        "episode": opportunity.qualification,
        "history": selectors.opportunity_history(opportunity_id=opportunity.pk).select_related("actor_user"),
        "timeline": lead_timeline(lead_id=opportunity.lead_id),
        "can_act": can_act,
        "actions": [
            {"action": action, "form": bound.get(action.key) or action.form(auto_id=f"{action.key}_%s")}
            for action in actions_for(opportunity)
        ]
        if can_act
        else [],
        "reassign_form": _reassign_form(request, opportunity),
        "due": _due_label(queue.due_at(opportunity, queue.bucket_policies()), timezone.now())
        if opportunity.stage == OpportunityStage.OPEN
        else None,
        "report_time_zone": settings.REPORT_TIME_ZONE,
    }


def _reassign_form(request: HttpRequest, opportunity: Opportunity) -> ReassignForm | None:
    if not has_role(request.user, Role.REVOPS_ADMIN) or not opportunity.is_open:
        return None
    return ReassignForm(initial={"owner": opportunity.owner_id}, auto_id="reassign_%s")


@require_POST
@role_required(Role.REVOPS_ADMIN)
def opportunity_reassign_view(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReassignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a sales rep, or nobody.")
        return redirect("opportunities:detail", pk=pk)
    owner = form.cleaned_data["owner"]
    try:
        opportunity_reassign(opportunity_id=pk, owner_id=owner.pk if owner else None)
    except Opportunity.DoesNotExist:
        raise Http404("No such opportunity.") from None
    except FunnelError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Now with {owner.get_username() if owner else 'nobody'}.")
    return redirect("opportunities:detail", pk=pk)


@role_required(Role.SALES_REP, Role.ANALYST)
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _opportunity_or_404(pk)
    return render(request, "opportunities/detail.html", _detail_context(request, opportunity))


@require_POST
@role_required(Role.SALES_REP)
def opportunity_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One action from the page. A move someone else made first gets a message, not an error page."""
    page_action = ACTIONS.get(action)
    if page_action is None:
        raise Http404("No such action.")
    opportunity = _opportunity_or_404(pk)
    authorize = require_may_act(request.user)
    authorize(opportunity)
    form = page_action.form(request.POST, auto_id=f"{action}_%s")
    if not form.is_valid():
        context = _detail_context(request, opportunity, bound={action: form})
        return render(request, "opportunities/detail.html", context, status=400)
    try:
        page_action.service(
            opportunity_id=pk,
            actor=Actor.user(request.user),  # type: ignore[arg-type]
            authorize=authorize,
            **page_action.fields_for_service(form.cleaned_data),
        )
    except IllegalTransition:
        current = Opportunity.objects.get(pk=pk)
        messages.warning(
            request, f"Nothing changed: this opportunity is already {current.get_stage_display().lower()}."
        )
    except FunnelError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, page_action.done)
    return redirect(_safe_next(request) or reverse("opportunities:detail", kwargs={"pk": pk}))


def _safe_next(request: HttpRequest) -> str | None:
    """Where a form asked to go back to (the queue), when it is a page of this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return None


CALIBRATION_WEEKS = 12


def _weekly_matrix(rows: list[dict[str, Any]], mondays: list[Any], buckets: list[str]) -> list[dict[str, Any]]:
    cells: dict[tuple[Any, str], dict[str, Any]] = {}
    for row in rows:
        cell = cells.setdefault((row["week"], row["bucket"]), {"count": 0, "top_reason": row["reason"]})
        cell["count"] += row["count"]
    return [
        {"monday": monday, "cells": [cells.get((monday, bucket), {"count": 0, "top_reason": ""}) for bucket in buckets]}
        for monday in mondays
    ]


@role_required(Role.REVOPS_ADMIN)
def disqualification_calibration(request: HttpRequest) -> HttpResponse:
    """Which buckets let in leads that reps then disqualify, and why: feedback for the ICP rules."""
    tz = ZoneInfo(settings.REPORT_TIME_ZONE)
    today = timezone.now().astimezone(tz).date()
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=n) for n in reversed(range(CALIBRATION_WEEKS))]
    since = datetime.combine(mondays[0], time.min, tzinfo=tz)
    by_bucket = selectors.disqualification_by_bucket(since=since)
    buckets = [row["bucket"] for row in by_bucket]
    weekly = selectors.disqualification_reasons_by_week(since=since, tz=tz)
    context = {
        "weeks": CALIBRATION_WEEKS,
        "by_bucket": by_bucket,
        "buckets": buckets,
        "matrix": _weekly_matrix(weekly, mondays, buckets),
    }
    return render(request, "opportunities/calibration.html", context)


QUEUE_PER_PAGE = 50


class QueueFilterForm(forms.Form):
    search = forms.CharField(label="Search", required=False, max_length=254)
    bucket = forms.ChoiceField(label="Bucket", required=False)
    source = forms.ChoiceField(label="Source", required=False, choices=[("", "All sources"), *Source.choices])
    owner = forms.ModelChoiceField(
        label="Owner",
        queryset=User.objects.filter(groups__name=Role.SALES_REP).order_by("username"),
        required=False,
        empty_label="Anyone",
    )

    def __init__(self, *args: Any, buckets: list[str], show_owner: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        cast(forms.ChoiceField, self.fields["bucket"]).choices = [("", "All buckets"), *((b, b) for b in buckets)]
        if not show_owner:
            del self.fields["owner"]

    def valid_filters(self) -> dict[str, Any]:
        self.is_valid()
        return {name: self.cleaned_data.get(name) or None for name in self.fields}


def _due_label(due_at: datetime, now: datetime) -> tuple[str, str]:
    """A badge for the SLA: (css modifier, words)."""
    hours = (due_at - now).total_seconds() / 3600
    if hours < 0:
        return "overdue", f"Overdue by {_duration(-hours)}"
    if hours <= 4:
        return "due", f"Due in {_duration(hours)}"
    return "ok", f"Due in {_duration(hours)}"


def _duration(hours: float) -> str:
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{round(hours)} h"
    return f"{round(hours / 24)} days"


def _bucket_pills(bucket_keys: list[str], counts: dict[str, int]) -> list[tuple[str, int]]:
    """Every rules bucket with its count; the unqualified pill only when some wait there."""
    return [(key, counts.get(key, 0)) for key in bucket_keys if key != UNQUALIFIED_BUCKET or counts.get(key)]


@role_required(Role.SALES_REP, Role.ANALYST)
def opportunity_queue(request: HttpRequest) -> HttpResponse:
    """Open opportunities waiting for a rep's confirmation, most urgent first."""
    policies = queue.bucket_policies()
    sees_everyone = not has_role(request.user, Role.SALES_REP) or has_role(request.user, Role.REVOPS_ADMIN)
    form = QueueFilterForm(
        request.GET, buckets=[p.key for p in policies] + [UNQUALIFIED_BUCKET], show_owner=sees_everyone
    )
    filters = form.valid_filters()
    owner = filters.pop("owner", None)
    waiting = queue.queue_scope(user_id=request.user.pk, include_all_owners=sees_everyone)
    waiting_counts = queue.queue_counts(scope=waiting)
    order = queue.bucket_order(policies, set(waiting_counts))
    shown = queue.queue_scope(
        user_id=request.user.pk, include_all_owners=sees_everyone, owner_id=owner.pk if owner else None, **filters
    )
    shown_counts = waiting_counts if shown.query == waiting.query else queue.queue_counts(scope=shown)
    page = Paginator(queue.QueueIds(shown, order, shown_counts), QUEUE_PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    context = {
        "form": form,
        "page": page,
        "items": [
            {
                "row": OpportunityRow.of(opportunity),
                "due": _due_label(queue.due_at(opportunity, policies), now),
                "can_act": may_act_on(request.user, opportunity),
            }
            for opportunity in queue.queue_rows(ids=list(page))
        ],
        "bucket_counts": _bucket_pills(order, waiting_counts),
        "total": sum(waiting_counts.values()),
        "has_rules": bool(policies),
        "sees_everyone": sees_everyone,
        "report_time_zone": settings.REPORT_TIME_ZONE,
    }
    return render(request, "opportunities/queue.html", context)
