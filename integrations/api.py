"""The ingestion REST API (docs/api.md, "Ingestion"): leads, activities one at a time or in batches, meetings."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.api import IsFunnelReader, IsRevOpsAdmin
from leads.choices import ActivityKind, EpisodeStage, LeadStage, Source
from leads.ingest import activities_record_batch
from leads.models import Activity, Lead, Qualification
from leads.selectors import lead_explanation
from leads.services import CompanyData, activity_record, lead_upsert
from leads.transitions import Actor
from opportunities.models import Opportunity
from opportunities.services import meeting_book

from .http import IngestThrottle, LimitedJSONParser
from .parsing import MAX_FUTURE, MAX_SCHEDULED_AHEAD, InputError, parse_activity, parse_timestamp
from .selectors import activities_for_api, lead_with_history, leads_for_api


@extend_schema_field(OpenApiTypes.DATETIME)
class AwareDateTimeField(serializers.Field):
    """ISO 8601 with a UTC offset; a naive or absurdly future timestamp is refused."""

    def __init__(self, *, max_future: timedelta = MAX_FUTURE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_future = max_future

    def to_internal_value(self, data: Any) -> datetime:
        try:
            return parse_timestamp(data, now=timezone.now(), max_future=self.max_future)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from error

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class CompanyInSerializer(serializers.Serializer):
    domain = serializers.CharField(max_length=253)
    name = serializers.CharField(max_length=255, required=False)
    employee_count = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False)
    industry = serializers.CharField(max_length=100, required=False)
    country = serializers.CharField(min_length=2, max_length=2, required=False)
    annual_revenue = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=0, required=False)
    traits = serializers.DictField(required=False)


class LeadInSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    title = serializers.CharField(max_length=255, required=False, allow_blank=True)
    country = serializers.CharField(min_length=2, max_length=2, required=False)
    source = serializers.ChoiceField(choices=Source.choices, required=False)  # type: ignore[assignment]
    sub_source = serializers.CharField(max_length=255, required=False, allow_blank=True)
    traits = serializers.DictField(required=False)
    company = CompanyInSerializer(required=False)


class AccountSerializer(serializers.Serializer):
    domain = serializers.CharField()
    name = serializers.CharField()
    employee_count = serializers.IntegerField(allow_null=True)
    industry = serializers.CharField()
    country = serializers.CharField()
    annual_revenue = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    traits = serializers.DictField()


class LeadSerializer(serializers.ModelSerializer[Lead]):
    account = AccountSerializer(allow_null=True)
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)

    class Meta:
        model = Lead
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "title",
            "country",
            "source",
            "sub_source",
            "traits",
            "stage",
            "owner",
            "account",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EpisodeSerializer(serializers.ModelSerializer[Qualification]):
    opportunity_id = serializers.SerializerMethodField()

    class Meta:
        model = Qualification
        fields = [
            "id",
            "stage",
            "qualified_at",
            "source",
            "sub_source",
            "bucket",
            "fit_score",
            "intent_score",
            "ruleset_version",
            "ended_at",
            "opportunity_id",
        ]
        read_only_fields = fields

    def get_opportunity_id(self, episode: Qualification) -> int | None:
        opportunity = getattr(episode, "opportunity", None)
        return opportunity.pk if opportunity is not None else None


class LeadOpportunitySerializer(serializers.ModelSerializer[Opportunity]):
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    reason = serializers.CharField(source="reason.code", allow_null=True, default=None)

    class Meta:
        model = Opportunity
        fields = ["id", "stage", "created_at", "qualified_at", "closed_at", "owner", "amount", "reason"]
        read_only_fields = fields


class LeadDetailSerializer(LeadSerializer):
    fit_score = serializers.SerializerMethodField()
    intent_score = serializers.SerializerMethodField()
    bucket = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField()
    episodes = EpisodeSerializer(source="qualifications", many=True)
    opportunities = LeadOpportunitySerializer(many=True)

    class Meta(LeadSerializer.Meta):
        fields = [
            *LeadSerializer.Meta.fields,
            "fit_score",
            "intent_score",
            "bucket",
            "explanation",
            "episodes",
            "opportunities",
        ]
        read_only_fields = fields

    def _current(self, lead: Lead) -> Qualification | None:
        """The open episode, else the latest one: what the lead was when it last qualified."""
        episodes = list(lead.qualifications.all())
        open_episodes = [episode for episode in episodes if episode.stage == EpisodeStage.OPEN]
        candidates = open_episodes or episodes
        return candidates[0] if candidates else None

    def get_fit_score(self, lead: Lead) -> float | None:
        if lead.ruleset_version is not None:
            return lead.fit_score
        episode = self._current(lead)
        return episode.fit_score if episode else None

    def get_intent_score(self, lead: Lead) -> float | None:
        if lead.ruleset_version is not None:
            return lead.intent_score
        episode = self._current(lead)
        return episode.intent_score if episode else None

    def get_bucket(self, lead: Lead) -> str | None:
        if lead.bucket:
            return lead.bucket
        episode = self._current(lead)
        return episode.bucket if episode else None

    def get_explanation(self, lead: Lead) -> dict[str, Any]:
        """Why the lead stands where it does under the active rules, now; else what its episode recorded."""
        current = lead_explanation(lead_id=lead.pk)
        if current is not None:
            return current
        episode = self._current(lead)
        return episode.explanation if episode else {}


class ActivitySerializer(serializers.ModelSerializer[Activity]):
    email = serializers.EmailField(source="lead.email")

    class Meta:
        model = Activity
        fields = [
            "id",
            "email",
            "kind",
            "name",
            "occurred_at",
            "properties",
            "source_system",
            "external_id",
            "recorded_at",
        ]
        read_only_fields = fields


ACTIVITY_IN_FIELDS: dict[str, serializers.Field] = {
    "email": serializers.EmailField(),
    "kind": serializers.ChoiceField(choices=ActivityKind.choices),
    "name": serializers.CharField(max_length=255),
    "occurred_at": serializers.DateTimeField(required=False, help_text="ISO 8601 with offset; default now."),
    "properties": serializers.DictField(required=False),
    "source_system": serializers.CharField(max_length=50, required=False, help_text="Default 'api'."),
    "external_id": serializers.CharField(max_length=255, required=False),
}


class MeetingInSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    booked_at = AwareDateTimeField(required=False)
    scheduled_for = AwareDateTimeField(required=False, max_future=MAX_SCHEDULED_AHEAD)
    external_id = serializers.CharField(max_length=255, required=False)
    source_system = serializers.CharField(max_length=50, required=False)


class ReadOrIngest(BasePermission):
    """Every role reads; writing (ingestion) takes a RevOps admin's token."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return IsFunnelReader().has_permission(request, view)
        return IsRevOpsAdmin().has_permission(request, view)


# 201 when recorded or booked now; 200 for a duplicate activity or an opportunity that was already open.
ACTIVITY_RECORDED = inline_serializer(
    "ActivityCreated", {"id": serializers.IntegerField(), "duplicate": serializers.BooleanField()}
)
MEETING_BOOKED = inline_serializer(
    "MeetingBooked",
    {"opportunity_id": serializers.IntegerField(allow_null=True), "created": serializers.BooleanField()},
)


class IngestView(APIView):
    parser_classes = [LimitedJSONParser]
    permission_classes = [ReadOrIngest]
    throttle_classes = [IngestThrottle]
    throttle_scope = "ingest"


def integration_actor(request: Request) -> Actor:
    return Actor.integration(f"api:{request.user.get_username()}")


def _body_object(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
    return request.data


class LeadListCreate(IngestView, generics.ListAPIView[Lead]):
    serializer_class = LeadSerializer

    def get_queryset(self) -> QuerySet[Lead]:
        params = self.request.query_params
        return leads_for_api(
            email=params.get("email"),
            stage=params.get("stage"),
            bucket=params.get("bucket"),
            source=params.get("source"),
        ).select_related("owner")

    @extend_schema(
        parameters=[
            OpenApiParameter("email", str),
            OpenApiParameter("stage", str, enum=LeadStage.values),
            OpenApiParameter("bucket", str),
            OpenApiParameter("source", str, enum=Source.values),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=LeadInSerializer, responses={200: LeadSerializer, 201: LeadSerializer})
    def post(self, request: Request) -> Response:
        serializer = LeadInSerializer(data=_body_object(request))
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        company = data.pop("company", None)
        lead, created = lead_upsert(**data, company=CompanyData(**company) if company else None)
        return Response(LeadSerializer(lead).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class LeadDetail(generics.RetrieveAPIView[Lead]):
    serializer_class = LeadDetailSerializer
    permission_classes = [IsFunnelReader]
    queryset = lead_with_history()


class ActivityListCreate(IngestView, generics.ListAPIView[Activity]):
    serializer_class = ActivitySerializer

    def get_queryset(self) -> QuerySet[Activity]:
        params = self.request.query_params
        since = None
        if params.get("since"):
            try:
                since = parse_timestamp(params["since"], now=timezone.now())
            except ValueError as error:
                raise ValidationError({"since": [str(error)]}) from error
        return activities_for_api(email=params.get("email"), kind=params.get("kind"), since=since)

    @extend_schema(
        parameters=[
            OpenApiParameter("email", str),
            OpenApiParameter("kind", str, enum=ActivityKind.values),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=inline_serializer("ActivityIn", ACTIVITY_IN_FIELDS),
        responses={201: ACTIVITY_RECORDED, 200: ACTIVITY_RECORDED},
    )
    def post(self, request: Request) -> Response:
        try:
            item = parse_activity(_body_object(request), now=timezone.now())
        except InputError as error:
            raise ValidationError(error.fields) from error
        activity, created = activity_record(
            email=item.email,
            kind=item.kind,
            name=item.name,
            occurred_at=item.occurred_at,
            properties=item.properties,
            source_system=item.source_system,
            external_id=item.external_id,
        )
        return Response(
            {"id": activity.pk, "duplicate": not created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ActivityBatch(IngestView):
    """Up to INGEST_MAX_BATCH activities; the valid ones are stored even when others are not."""

    @extend_schema(
        request=inline_serializer(
            "ActivityBatchIn", {"activities": inline_serializer("ActivityItem", ACTIVITY_IN_FIELDS, many=True)}
        ),
        responses={
            200: inline_serializer(
                "ActivityBatchResult",
                {
                    "created": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "errors": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        items = _body_object(request).get("activities")
        limit = settings.INGEST_MAX_BATCH
        if not isinstance(items, list):
            raise ValidationError({"activities": ["Expected a list of activities."]})
        if len(items) > limit:
            raise ValidationError({"activities": [f"At most {limit} activities per batch; got {len(items)}."]})
        now = timezone.now()
        valid = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                valid.append(parse_activity(item, now=now))
            except InputError as error:
                errors.append({"index": index, "fields": error.fields})
        outcome = activities_record_batch(activities=valid, recorded_at=now) if valid else None
        return Response(
            {
                "created": outcome.created if outcome else 0,
                "duplicates": outcome.duplicates if outcome else 0,
                "errors": errors,
            }
        )


class MeetingCreate(IngestView):
    @extend_schema(
        request=MeetingInSerializer,
        responses={201: MEETING_BOOKED, 200: MEETING_BOOKED},
    )
    def post(self, request: Request) -> Response:
        serializer = MeetingInSerializer(data=_body_object(request))
        serializer.is_valid(raise_exception=True)
        booking = meeting_book(actor=integration_actor(request), **serializer.validated_data)
        opportunity_id = booking.opportunity.pk if booking.opportunity else None
        return Response(
            {"opportunity_id": opportunity_id, "created": booking.created},
            status=status.HTTP_201_CREATED if booking.created else status.HTTP_200_OK,
        )
