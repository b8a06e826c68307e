"""/api/v1/opportunities/: read opportunities and move them through their stages (docs/api.md)."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.api import IsFunnelReader, IsSalesRep, request_actor
from leads.models import StageTransition

from . import selectors, services
from .models import Opportunity, ReasonCode
from .permissions import require_may_act


class TransitionSerializer(serializers.ModelSerializer[StageTransition]):
    class Meta:
        model = StageTransition
        fields = ["from_stage", "to_stage", "effective_at", "recorded_at", "actor_kind", "actor_name", "reason"]


class OpportunitySerializer(serializers.ModelSerializer[Opportunity]):
    lead_email = serializers.EmailField(source="lead.email")
    # A field named "source" shadows Field.source, which DRF's metaclass allows.
    source = serializers.CharField(source="funnel_source")  # type: ignore[assignment]
    sub_source = serializers.CharField(source="funnel_sub_source")
    bucket = serializers.CharField(source="funnel_bucket")
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    reason: serializers.SlugRelatedField[ReasonCode] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "lead_email",
            "stage",
            "created_at",
            "qualified_at",
            "closed_at",
            "scheduled_for",
            "source",
            "sub_source",
            "bucket",
            "owner",
            "amount",
            "reason",
            "reason_note",
        ]
        read_only_fields = fields


class OpportunityDetailSerializer(OpportunitySerializer):
    history = serializers.SerializerMethodField()

    class Meta(OpportunitySerializer.Meta):
        fields = [*OpportunitySerializer.Meta.fields, "history"]
        read_only_fields = fields

    def get_history(self, opportunity: Opportunity) -> list[dict[str, Any]]:
        rows = selectors.opportunity_history(opportunity_id=opportunity.pk)
        return list(TransitionSerializer(rows, many=True).data)


class OpportunityList(generics.ListAPIView[Opportunity]):
    """Opportunities, newest first; filter by ``stage``, ``owner`` (a username) and ``lead_email``."""

    serializer_class = OpportunitySerializer
    permission_classes = [IsFunnelReader]

    def get_queryset(self) -> Any:
        params = self.request.query_params
        return selectors.opportunities_for_api(
            stage=params.get("stage") or None,
            owner=params.get("owner") or None,
            lead_email=params.get("lead_email") or None,
        )


class OpportunityDetail(generics.RetrieveAPIView[Opportunity]):
    serializer_class = OpportunityDetailSerializer
    permission_classes = [IsFunnelReader]

    def get_queryset(self) -> Any:
        return selectors.opportunities_for_api()


class EffectiveTime(serializers.Serializer[Any]):
    at = serializers.DateTimeField(required=False, default=None)


class WithReason(EffectiveTime):
    reason = serializers.CharField(max_length=50)
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)


class WithAmount(EffectiveTime):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, default=None)


class _Action(APIView):
    """POST moves the opportunity; 409 when the move is illegal from its current stage.

    The input's fields are the service's keyword arguments.
    """

    permission_classes = [IsSalesRep]
    input_serializer: type[serializers.Serializer[Any]] = EffectiveTime
    service: Callable[..., Opportunity]

    def post(self, request: Request, pk: int) -> Response:
        authorize = require_may_act(request.user)
        authorize(get_object_or_404(Opportunity, pk=pk))
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        type(self).service(opportunity_id=pk, actor=request_actor(request), authorize=authorize, **data.validated_data)
        moved = selectors.opportunities_for_api().get(pk=pk)
        return Response(OpportunityDetailSerializer(moved).data)


@extend_schema_view(post=extend_schema(request=EffectiveTime, responses=OpportunityDetailSerializer))
class Qualify(_Action):
    service = staticmethod(services.opportunity_qualify)


@extend_schema_view(post=extend_schema(request=WithReason, responses=OpportunityDetailSerializer))
class Disqualify(_Action):
    input_serializer = WithReason
    service = staticmethod(services.opportunity_disqualify)


@extend_schema_view(post=extend_schema(request=WithAmount, responses=OpportunityDetailSerializer))
class Win(_Action):
    input_serializer = WithAmount
    service = staticmethod(services.opportunity_win)


@extend_schema_view(post=extend_schema(request=WithReason, responses=OpportunityDetailSerializer))
class Lose(_Action):
    input_serializer = WithReason
    service = staticmethod(services.opportunity_lose)
