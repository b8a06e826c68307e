"""The rules editor for RevOps admins: draft, edit, preview, publish, roll back, history."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from access.decorators import role_required
from access.roles import Role
from jobs.models import Job

from . import selectors, services
from .choices import RulesetStatus
from .errors import IllegalTransition
from .models import Ruleset
from .rules_forms import PreviewForm, RulesetForm
from .scoring import RulesetInvalid
from .services import signed_in

STARTER_RULESET: dict[str, Any] = {
    "name": "First ruleset",
    "fit_threshold": 40,
    "intent_threshold": 20,
    "half_life_days": 14,
    "lookback_days": 90,
    "recycle_after_days": None,
    "fit_rules": [
        {"label": "Mid-market", "field": "account.employee_count", "op": "between", "value": [50, 5000], "points": 30},
        {"label": "Free e-mail", "field": "lead.email_domain_type", "op": "eq", "value": "free", "points": -40},
    ],
    "intent_rules": [
        {"label": "Asked for sales", "kind": "form", "names": ["Demo Request", "Contact Sales"], "points": 40},
        {"label": "Chatted with sales", "kind": "chat", "points": 25},
    ],
    "buckets": [
        {"key": "P1", "label": "High touch", "experience": "AE calls within 1 hour", "sla_hours": 1, "min_fit": 60},
        {"key": "P2", "label": "Low touch", "experience": "Automated sequence", "sla_hours": 72},
    ],
}
admin_only = role_required(Role.REVOPS_ADMIN)


def _diff_against_active(ruleset: Ruleset) -> list[dict[str, str]]:
    active = selectors.ruleset_active()
    if active is None:
        return selectors.ruleset_diff(old=None, new=ruleset.document)
    return selectors.ruleset_diff(old=active.document, new=ruleset.document)


@admin_only
def rules_home(request: HttpRequest) -> HttpResponse:
    rulesets = list(selectors.rulesets_for_list())
    publications = [
        {
            "publication": publication,
            "diff": selectors.ruleset_diff(
                old=publication.previous.document if publication.previous else None,
                new=publication.ruleset.document,
            ),
        }
        for publication in selectors.ruleset_publications()[:20]
    ]
    context = {
        "active": next((r for r in rulesets if r.status == RulesetStatus.ACTIVE), None),
        "drafts": [r for r in rulesets if r.status == RulesetStatus.DRAFT],
        "retired": [r for r in rulesets if r.status == RulesetStatus.RETIRED],
        "publications": publications,
    }
    return render(request, "leads/rules/home.html", context)


@admin_only
@require_POST
def ruleset_draft_new(request: HttpRequest) -> HttpResponse:
    source_id = request.POST.get("from", "")
    active = selectors.ruleset_active()
    if source_id:
        source = get_object_or_404(Ruleset, pk=int(source_id) if source_id.isdigit() else 0)
        draft = services.ruleset_draft_from(ruleset_id=source.pk, user=signed_in(request.user))
    elif active is not None:
        draft = services.ruleset_draft_from(ruleset_id=active.pk, user=signed_in(request.user))
    else:
        draft = services.ruleset_create(document=STARTER_RULESET, user=signed_in(request.user))
    messages.success(request, f"Draft v{draft.version} started. Edit it, preview it, then publish it.")
    return redirect("rules:edit", pk=draft.pk)


@admin_only
def ruleset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ruleset = get_object_or_404(Ruleset, pk=pk)
    context = {
        "ruleset": ruleset,
        "rules": selectors.ruleset_describe(document=ruleset.document),
        "document": ruleset.document,
        "diff": _diff_against_active(ruleset),
        "preview_form": PreviewForm(),
    }
    return render(request, "leads/rules/detail.html", context)


@admin_only
@require_http_methods(["GET", "POST"])
def ruleset_edit(request: HttpRequest, pk: int) -> HttpResponse:
    ruleset = get_object_or_404(Ruleset, pk=pk)
    if ruleset.status != RulesetStatus.DRAFT:
        messages.error(request, f"v{ruleset.version} is {ruleset.get_status_display().lower()}: start a draft from it.")
        return redirect("rules:detail", pk=pk)
    if request.method == "POST":
        form = RulesetForm(request.POST)
        if form.is_valid():
            try:
                services.ruleset_update(ruleset_id=pk, document=form.document())
            except RulesetInvalid as invalid:
                form.add_ruleset_errors(invalid)
            else:
                messages.success(request, f"Draft v{ruleset.version} saved: the rules are valid.")
                return redirect("rules:detail", pk=pk)
    else:
        form = RulesetForm(initial=RulesetForm.initial_from(ruleset.document))
    return render(request, "leads/rules/edit.html", {"ruleset": ruleset, "form": form})


@admin_only
def ruleset_preview(request: HttpRequest, pk: int) -> HttpResponse:
    ruleset = get_object_or_404(Ruleset, pk=pk)
    form = PreviewForm(request.GET or None)
    weeks = form.cleaned_data["weeks"] if form.is_valid() else 8
    preview = selectors.ruleset_preview(ruleset=ruleset, weeks=weeks)
    context = {
        "ruleset": ruleset,
        "form": form if form.is_bound else PreviewForm(initial={"weeks": weeks}),
        "weeks": weeks,
        "preview": preview,
        "active": selectors.ruleset_active(),
    }
    return render(request, "leads/rules/preview.html", context)


@admin_only
@require_http_methods(["GET", "POST"])
def ruleset_publish(request: HttpRequest, pk: int) -> HttpResponse:
    ruleset = get_object_or_404(Ruleset, pk=pk)
    if request.method == "POST":
        try:
            job = services.ruleset_publish(ruleset_id=pk, user=signed_in(request.user))
        except IllegalTransition as error:
            messages.error(request, error.message)
            return redirect("rules:detail", pk=pk)
        job.refresh_from_db()
        if job.waits_for_queue:
            messages.warning(request, f"v{ruleset.version} is now the active ruleset. {job.message}")
        else:
            messages.success(request, f"v{ruleset.version} is now the active ruleset. Leads are being re-evaluated.")
        return redirect("rules:job", pk=job.pk)
    context = {
        "ruleset": ruleset,
        "active": selectors.ruleset_active(),
        "diff": _diff_against_active(ruleset),
        "affected": services.leads_to_reevaluate().count(),
        "is_rollback": ruleset.status == RulesetStatus.RETIRED,
    }
    return render(request, "leads/rules/publish.html", context)


@admin_only
def rules_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=pk, kind=services.RULES_PUBLISH_JOB)
    ruleset = Ruleset.objects.filter(pk=job.parameters.get("ruleset_id")).first()
    return render(request, "leads/rules/job.html", {"job": job, "ruleset": ruleset})
