"""The rulesets API (API.md, "Rules"): list, read, create a draft, preview, publish."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.api import IsRevOpsAdmin, error_body

from . import selectors, services
from .models import Ruleset
from .scoring import RulesetInvalid
from .services import signed_in


class RulesetSerializer(serializers.ModelSerializer[Ruleset]):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True, allow_null=True)

    class Meta:
        model = Ruleset
        fields = ["id", "version", "name", "status", "document", "created_by", "created_at", "published_at"]
        read_only_fields = fields


class PreviewInput(serializers.Serializer[dict[str, Any]]):
    weeks = serializers.IntegerField(min_value=1, max_value=52, default=8)


def invalid_ruleset(error: RulesetInvalid) -> Response:
    return Response(
        error_body("invalid", "The ruleset has errors; each field lists them.", error.errors),
        status=status.HTTP_400_BAD_REQUEST,
    )


class RulesetList(APIView):
    permission_classes = [IsRevOpsAdmin]

    @extend_schema(operation_id="rulesets_list", responses=RulesetSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(RulesetSerializer(selectors.rulesets_for_list(), many=True).data)

    @extend_schema(
        operation_id="rulesets_create",
        request=OpenApiTypes.OBJECT,
        responses={201: RulesetSerializer},
        description="Create a draft from a ruleset document (API.md, 'Rules').",
    )
    def post(self, request: Request) -> Response:
        try:
            ruleset = services.ruleset_create(document=request.data, user=signed_in(request.user))
        except RulesetInvalid as error:
            return invalid_ruleset(error)
        return Response(RulesetSerializer(ruleset).data, status=status.HTTP_201_CREATED)


class RulesetActive(APIView):
    permission_classes = [IsRevOpsAdmin]

    @extend_schema(operation_id="rulesets_active", responses={200: RulesetSerializer, 404: None})
    def get(self, request: Request) -> Response:
        ruleset = selectors.ruleset_active()
        if ruleset is None:
            return Response(error_body("not_found", "No ruleset is active yet."), status=status.HTTP_404_NOT_FOUND)
        return Response(RulesetSerializer(ruleset).data)


class RulesetDetail(APIView):
    permission_classes = [IsRevOpsAdmin]

    @extend_schema(operation_id="rulesets_retrieve", responses=RulesetSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(RulesetSerializer(get_object_or_404(Ruleset, pk=pk)).data)


class RulesetPreview(APIView):
    permission_classes = [IsRevOpsAdmin]

    @extend_schema(operation_id="rulesets_preview", request=PreviewInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: int) -> Response:
        ruleset = get_object_or_404(Ruleset, pk=pk)
        data = PreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        preview = selectors.ruleset_preview(ruleset=ruleset, weeks=data.validated_data["weeks"])
        return Response(
            {
                "start": preview.start,
                "end": preview.end,
                "leads_considered": preview.leads_considered,
                "qls_before": preview.qls_before,
                "qls_after": preview.qls_after,
                "weeks": preview.weeks,
                "load": preview.load,
                "conversion": preview.conversion,
                "changes": [
                    {
                        "lead_id": change.lead_id,
                        "email": change.email,
                        "bucket_before": change.before or None,
                        "bucket_after": change.after or None,
                        "qualified_at_before": change.before_at,
                        "qualified_at_after": change.after_at,
                        "stage": change.stage,
                        "furthest_stage": change.furthest or None,
                    }
                    for change in preview.changes
                ],
            }
        )


class RulesetPublish(APIView):
    permission_classes = [IsRevOpsAdmin]

    @extend_schema(
        operation_id="rulesets_publish",
        request=None,
        responses={
            202: inline_serializer(
                "RulesetPublishAccepted",
                {
                    "job_id": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "message": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        get_object_or_404(Ruleset, pk=pk)
        try:
            job = services.ruleset_publish(ruleset_id=pk, user=signed_in(request.user))
        except RulesetInvalid as error:
            return invalid_ruleset(error)
        job.refresh_from_db()
        return Response(
            {"job_id": job.pk, "status": job.status, "message": job.message}, status=status.HTTP_202_ACCEPTED
        )
