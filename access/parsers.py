"""Request input every endpoint shares: JSON bodies and query strings whose text PostgreSQL can store."""

from collections.abc import Callable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

# PostgreSQL text and jsonb cannot hold NUL; it becomes U+FFFD, the stand-in for what cannot be represented.
NUL = "\x00"
REPLACEMENT_CHARACTER = "\ufffd"


def without_nul(text: str) -> str:
    return text.replace(NUL, REPLACEMENT_CHARACTER)


def json_without_nul(value: Any) -> Any:
    """A parsed JSON value with NUL replaced in every string and key."""
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, list):
        return [json_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): json_without_nul(item) for key, item in value.items()}
    return value


class FunnelJSONParser(JSONParser):
    """DRF's JSON parser, with NUL replaced in strings and too deep nesting a 400 instead of a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return json_without_nul(super().parse(stream, media_type, parser_context))
        except RecursionError:
            raise exceptions.ParseError("The JSON is nested too deeply.") from None


class QueryWithoutNulMiddleware:
    """Replaces NUL in query parameters, which filters would otherwise send to PostgreSQL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any(NUL in key or any(NUL in value for value in values) for key, values in request.GET.lists()):
            query = QueryDict(mutable=True)
            for key, values in request.GET.lists():
                query.setlist(without_nul(key), [without_nul(value) for value in values])
            query._mutable = False
            request.GET = query  # type: ignore[assignment]  # immutable again, as the stubs want
        return self.get_response(request)
