"""API conventions every endpoint shares: role permissions and the JSON error format.

Every error is ``{"error": {"code": ..., "message": ..., "fields": {...}}}`` (docs/api.md, "Errors").
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from leads.choices import ActorKind
from leads.errors import FunnelError, IllegalTransition
from leads.transitions import Actor

from .roles import Role, has_role

logger = logging.getLogger(__name__)


class _RolePermission(BasePermission):
    roles: tuple[str, ...] = ()

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and has_role(request.user, *self.roles))


class IsAnalyst(_RolePermission):
    """Reads dashboards and reports: analysts and admins."""

    roles = (Role.ANALYST,)


class IsSalesRep(_RolePermission):
    """Works opportunities: reps and admins."""

    roles = (Role.SALES_REP,)


class IsFunnelReader(_RolePermission):
    """Reads leads and opportunities: every role."""

    roles = (Role.ANALYST, Role.SALES_REP)


class IsRevOpsAdmin(_RolePermission):
    roles = (Role.REVOPS_ADMIN,)


def request_actor(request: Request) -> Actor:
    """Token clients are integrations (they may give an effective time); browser sessions are users."""
    user = request.user
    if isinstance(request.auth, Token):
        return Actor(kind=ActorKind.INTEGRATION, name=f"api:{user.get_username()}", user_id=user.pk)
    return Actor.user(user)  # type: ignore[arg-type]


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _field_messages(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {
            key: _field_messages(value) if isinstance(value, dict) else _flatten(value) for key, value in detail.items()
        }
    return {"non_field_errors": _flatten(detail)}


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, list):
        return [str(item) for item in detail]
    return [str(detail)]


ERROR_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


# A database that cannot be reached (down, restarting, connection dropped): the client may retry.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable. Try again in a few seconds."
RETRY_AFTER_SECONDS = 5


def log_database_unavailable(*, method: str | None, path: str, error: Exception) -> None:
    """One line, not a traceback: an outage is expected and the cause is in the message."""
    lines = str(error).strip().splitlines()
    logger.warning("Database unavailable for %s %s: %s", method, path, lines[0] if lines else type(error).__name__)


def funnel_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler, in the funnel's error format; domain errors become 400 or 409."""
    if isinstance(exc, DATABASE_UNAVAILABLE_ERRORS):
        request = context.get("request")
        log_database_unavailable(method=getattr(request, "method", None), path=getattr(request, "path", ""), error=exc)
        return Response(
            error_body("database_unavailable", DATABASE_UNAVAILABLE_MESSAGE),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, FunnelError):
        status_code = status.HTTP_409_CONFLICT if isinstance(exc, IllegalTransition) else status.HTTP_400_BAD_REQUEST
        fields = {exc.field: [exc.message]} if exc.field else {}
        return Response(error_body(exc.code, exc.message, fields), status=status_code)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("invalid", "The request has invalid fields.", _field_messages(exc.detail))
    else:
        detail = getattr(exc, "detail", None) or str(exc)
        code = getattr(detail, "code", None) or ERROR_CODES.get(response.status_code, "error")
        if isinstance(exc, Http404 | PermissionDenied):
            code = ERROR_CODES[response.status_code]
        response.data = error_body(str(code), str(detail))
    return response


def json_error(request: HttpRequest, status_code: int, code: str, message: str) -> JsonResponse:
    """An error in the API's format, for views outside DRF (webhooks, the Segment endpoint)."""
    return JsonResponse(error_body(code, message), status=status_code)


MACHINE_PATH_PREFIXES = ("/api/", "/segment/", "/webhooks/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: an unknown URL under the machine-facing prefixes gets a JSON error; pages keep Django's 404."""
    if request.path.startswith(MACHINE_PATH_PREFIXES):
        return json_error(request, status.HTTP_404_NOT_FOUND, "not_found", "No such resource.")
    return defaults.page_not_found(request, exception)
