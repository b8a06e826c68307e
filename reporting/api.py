from typing import Any

from django.http import HttpResponse, QueryDict
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.api import IsAnalyst

from . import selectors
from .exports import report_csv_lines, report_row_data
from .forms import parse_week_range
from .services import weekly_report_rebuild_queue

WEEK_PARAMETERS = [
    OpenApiParameter("from", str, description="First ISO week, e.g. 2026-W01 (default: 11 weeks before `to`)."),
    OpenApiParameter("to", str, description="Last ISO week, e.g. 2026-W10 (default: the current week)."),
    OpenApiParameter("dimension", str, enum=["source", "sub_source", "bucket"], description="Default: source."),
]
JOB_ACCEPTED = inline_serializer(
    "WeeklyReportRefreshAccepted",
    {
        "job_id": serializers.IntegerField(),
        "status": serializers.CharField(),
        "message": serializers.CharField(),
        "url": serializers.CharField(),
    },
)


class WeeklyReport(APIView):
    """The weekly report snapshot: every column for each week and slice of a dimension, plus ``all``."""

    permission_classes = [IsAnalyst]

    @extend_schema(parameters=WEEK_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        weeks = parse_week_range(request.query_params)
        rows = selectors.weekly_report_rows(
            first_monday=weeks.first_monday, last_monday=weeks.last_monday, dimension=weeks.dimension
        )
        as_of = selectors.weekly_report_as_of(rows)
        return Response(
            {
                "as_of": as_of.isoformat() if as_of else None,
                "time_zone": selectors.report_time_zone().key,
                "from": weeks.first_week,
                "to": weeks.last_week,
                "dimension": weeks.dimension,
                "rows": [report_row_data(row) for row in rows],
            }
        )


class WeeklyReportCsv(APIView):
    """The same rows as CSV, safe to open in a spreadsheet."""

    permission_classes = [IsAnalyst]

    @extend_schema(parameters=WEEK_PARAMETERS, responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request) -> HttpResponse:
        weeks = parse_week_range(request.query_params)
        rows = selectors.weekly_report_rows(
            first_monday=weeks.first_monday, last_monday=weeks.last_monday, dimension=weeks.dimension
        )
        response = HttpResponse("".join(report_csv_lines(rows)), content_type="text/csv; charset=utf-8")
        filename = f"weekly-report-{weeks.dimension}-{weeks.first_week}-{weeks.last_week}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def request_body_fields(request: Request) -> dict[str, Any]:
    """The body's fields: a form, or a JSON object (an empty body has none)."""
    if isinstance(request.data, QueryDict):
        return request.data.dict()
    if isinstance(request.data, dict):
        return request.data
    if request.data is None:
        return {}
    raise ValidationError({"non_field_errors": ["Expected a JSON object."]})


class WeeklyReportRefresh(APIView):
    """Queue a rebuild of the weeks in range (default: the trailing twelve); 202 with the job."""

    permission_classes = [IsAnalyst]

    @extend_schema(
        request=inline_serializer(
            "WeeklyReportRefresh",
            {"from": serializers.CharField(required=False), "to": serializers.CharField(required=False)},
        ),
        responses={202: JOB_ACCEPTED},
    )
    def post(self, request: Request) -> Response:
        body = request_body_fields(request)
        weeks = parse_week_range({**request.query_params.dict(), **body})
        job = weekly_report_rebuild_queue(
            first_monday=weeks.first_monday, last_monday=weeks.last_monday, user=request.user
        )
        job.refresh_from_db()
        return Response(
            {
                "job_id": job.pk,
                "status": job.status,
                "message": job.message,
                "url": reverse("api-job-detail", args=[job.pk]),
            },
            status=status.HTTP_202_ACCEPTED,
        )
