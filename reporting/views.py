from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from access.decorators import role_required
from access.roles import Role

from . import selectors
from .choices import Dimension
from .dashboard import build_dashboard, slice_label
from .engine import COLUMNS_BY_NAME, EPISODES
from .forms import DashboardFilterForm
from .services import weekly_report_rebuild_queue
from .stats import iso_week_label, parse_iso_week

DRILL_PAGE_SIZE = 50
PRIOR_WEEKS = 4
COLUMN_TITLES = {
    "qls": "QLs",
    "ql_cohort_qo": "QLs that reached QO",
    "ql_cohort_won": "QLs that were won",
    "ql_cohort_open": "QLs still open",
    "opportunities": "Opportunities booked",
    "qos": "QOs",
    "won": "Deals won",
    "qo_cohort_won": "QOs that were won",
    "qo_cohort_open": "QOs still open",
}


@role_required(Role.ANALYST)
def reporting_dashboard(request: HttpRequest) -> HttpResponse:
    form = DashboardFilterForm(request.GET)
    weeks, selected = form.week_range()
    query = {"from": weeks.first_week, "to": weeks.last_week, "dimension": weeks.dimension}
    if not form.errors:
        form = DashboardFilterForm({**query, "week": iso_week_label(selected)})
    rows = selectors.weekly_report_rows(
        first_monday=min(weeks.first_monday, selected) - timedelta(weeks=PRIOR_WEEKS),
        last_monday=weeks.last_monday,
        dimension=weeks.dimension,
        also=(Dimension.SOURCE,),
    )
    tz = selectors.report_time_zone()
    context = build_dashboard(
        rows=rows,
        first=weeks.first_monday,
        last=weeks.last_monday,
        selected=selected,
        dimension=weeks.dimension,
        tz=tz,
        now=timezone.now(),
    )
    job_id = request.GET.get("job", "")
    context.update(
        form=form,
        filters=query,
        job=selectors.rebuild_job(job_id=int(job_id)) if job_id.isdigit() else None,
        csv_href=f"{reverse('api-weekly-report-csv')}?{urlencode(query)}",
        json_href=f"{reverse('api-weekly-report')}?{urlencode(query)}",
        report_time_zone=settings.REPORT_TIME_ZONE,
    )
    return render(request, "reporting/dashboard.html", context)


@require_POST
@role_required(Role.ANALYST)
def reporting_refresh(request: HttpRequest) -> HttpResponse:
    form = DashboardFilterForm(request.POST)
    weeks, selected = form.week_range()
    job = weekly_report_rebuild_queue(first_monday=weeks.first_monday, last_monday=weeks.last_monday, user=request.user)
    job.refresh_from_db()
    if job.waits_for_queue:
        messages.warning(request, f"Rebuild of {weeks.first_week} to {weeks.last_week}: {job.message}")
    else:
        messages.success(request, f"Rebuilding {weeks.first_week} to {weeks.last_week}.")
    query = {
        "from": weeks.first_week,
        "to": weeks.last_week,
        "week": iso_week_label(selected),
        "dimension": weeks.dimension,
        "job": job.pk,
    }
    return HttpResponseRedirect(f"{reverse('reporting:dashboard')}?{urlencode(query)}")


@role_required(Role.ANALYST)
def reporting_drilldown(request: HttpRequest) -> HttpResponse:
    column = request.GET.get("column", "")
    dimension = request.GET.get("dimension", "")
    slice_value = request.GET.get("slice", "")
    try:
        monday = parse_iso_week(request.GET.get("week", ""))
    except ValueError as error:
        raise Http404(str(error)) from error
    if column not in COLUMNS_BY_NAME or dimension not in Dimension.values:
        raise Http404("No such report cell.")
    as_of = selectors.weekly_report_cell_as_of(monday=monday, dimension=dimension, slice=slice_value) or timezone.now()
    episodes = COLUMNS_BY_NAME[column].subject == EPISODES
    select = selectors.report_cell_episodes if episodes else selectors.report_cell_opportunities
    records = select(column=column, monday=monday, dimension=dimension, slice=slice_value, as_of=as_of)
    page = Paginator(records, DRILL_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "episodes": episodes,
        "title": COLUMN_TITLES[column],
        "week_label": iso_week_label(monday),
        "dimension_label": Dimension(dimension).label,
        "slice_label": slice_label(slice_value) if dimension != Dimension.ALL else "",
        "as_of": as_of,
        "back_href": f"{reverse('reporting:dashboard')}?"
        + urlencode(
            {
                "week": iso_week_label(monday),
                "to": iso_week_label(monday),
                "dimension": dimension if dimension != Dimension.ALL else Dimension.SOURCE,
            }
        ),
        "report_time_zone": settings.REPORT_TIME_ZONE,
    }
    return render(request, "reporting/drilldown.html", context)
