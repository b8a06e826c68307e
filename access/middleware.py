"""A database that cannot be reached is a 503 the client may retry, not a 500 with a traceback."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .api import (
    DATABASE_UNAVAILABLE_ERRORS,
    DATABASE_UNAVAILABLE_MESSAGE,
    RETRY_AFTER_SECONDS,
    error_body,
    log_database_unavailable,
)


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: in the API's error format under /api/, a short page elsewhere."""
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("database_unavailable", DATABASE_UNAVAILABLE_MESSAGE), status=503)
    else:
        # Rendered without the request: the context processors would query the database again.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Turns a database error a view raises into a 503; DRF views get theirs from the API's handler."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_UNAVAILABLE_ERRORS):
            return None
        log_database_unavailable(method=request.method, path=request.path, error=exception)
        return database_unavailable_response(request)
