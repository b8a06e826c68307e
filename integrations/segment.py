"""The Segment-compatible endpoint: /segment/v1/batch, track, identify and group.

The official SDKs send HTTP Basic auth whose user name is the write key, and JSON bodies
(gzip-compressed when asked). Every call is answered in the API's error format.
"""

import base64
import binascii
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from .choices import IntegrationKind
from .http import LimitedJSONParser
from .models import Integration
from .parsing import InputError
from .services import SegmentMessage, segment_parse, segment_receive

# Segment's own limit for one batch call.
MAX_BATCH_MESSAGES = 2500


class WriteKeyAuthentication(BaseAuthentication):
    """HTTP Basic with a Segment integration's write key as the user name (password empty)."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, Integration] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"basic":
            return None
        try:
            decoded = base64.b64decode(header[1] if len(header) == 2 else b"", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("The Basic credentials cannot be decoded.") from None
        write_key = decoded.partition(":")[0]
        integration = Integration.objects.filter(kind=IntegrationKind.SEGMENT, secret=write_key, active=True).first()
        if not write_key or integration is None:
            raise exceptions.AuthenticationFailed("Unknown write key.")
        return AnonymousUser(), integration

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="segment"'


class HasWriteKey(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, Integration)


class WriteKeyThrottle(ScopedRateThrottle):
    """The ``segment`` rate, per write key."""

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, Integration):
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"integration-{request.auth.pk}"}


class SegmentView(APIView):
    authentication_classes = [WriteKeyAuthentication]
    permission_classes = [HasWriteKey]
    parser_classes = [LimitedJSONParser]
    throttle_classes = [WriteKeyThrottle]
    throttle_scope = "segment"
    call_type: str | None = None

    def _calls(self, body: dict[str, Any]) -> list[Any]:
        if self.call_type is None:
            calls = body.get("batch")
            if not isinstance(calls, list):
                raise exceptions.ValidationError({"batch": ["Expected a list of calls."]})
            if len(calls) > MAX_BATCH_MESSAGES:
                raise exceptions.ValidationError({"batch": [f"At most {MAX_BATCH_MESSAGES} calls per batch."]})
            return calls
        return [{**body, "type": body.get("type") or self.call_type}]

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        assert isinstance(request.auth, Integration)
        now = timezone.now()
        messages: list[SegmentMessage] = []
        errors: list[dict[str, Any]] = []
        for index, call in enumerate(self._calls(request.data)):
            try:
                message = segment_parse(call, now=now)
            except InputError as error:
                if self.call_type is not None:
                    raise exceptions.ValidationError(error.fields) from error
                errors.append({"index": index, "fields": error.fields})
                continue
            if self.call_type is not None and message.type != self.call_type:
                raise exceptions.ValidationError({"type": [f"This endpoint takes '{self.call_type}' calls."]})
            messages.append(message)
        outcome = segment_receive(integration=request.auth, messages=messages, now=now)
        return Response(
            {
                "success": True,
                "created": outcome.created,
                "duplicates": outcome.duplicates,
                "pending": outcome.pending,
                "errors": errors,
            }
        )
