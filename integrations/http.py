"""Request bodies for the ingestion doors: size limit (413), gzip, JSON, and a scoped throttle."""

import gzip
import json
import zlib
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from access.parsers import json_without_nul


class RequestTooLarge(APIException):
    status_code = 413
    default_code = "too_large"
    default_detail = "The request body is too large."


def body_limit() -> int:
    return int(settings.INGEST_MAX_BODY_BYTES)


def declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def decode_json(raw: bytes, *, content_encoding: str) -> Any:
    """JSON from a (possibly gzip-compressed) body; RequestTooLarge or ParseError when unusable."""
    limit = body_limit()
    if len(raw) > limit:
        raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
    if content_encoding.strip().lower() == "gzip":
        try:
            decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            raw = decompressor.decompress(raw, limit + 1)
        except (zlib.error, gzip.BadGzipFile) as error:
            raise ParseError(f"The gzip body cannot be read: {error}") from error
        if len(raw) > limit:
            raise RequestTooLarge(f"The decompressed request body is larger than {limit} bytes.")
    return parse_json(raw)


def parse_json(raw: bytes) -> Any:
    """The JSON in ``raw``, with NUL replaced in strings; ParseError when it is not usable JSON."""
    try:
        payload = json.loads(raw)
        # Only a "\u0000" escape puts a NUL in a string: JSON refuses raw control characters.
        return json_without_nul(payload) if b"\\u0000" in raw else payload
    except (ValueError, UnicodeDecodeError) as error:
        raise ParseError(f"Malformed JSON: {error}") from error
    except RecursionError:
        raise ParseError("The JSON is nested too deeply.") from None


class LimitedJSONParser(BaseParser):
    """application/json, refused with 413 past INGEST_MAX_BODY_BYTES before it is all read."""

    media_type = "application/json"

    def parse(
        self, stream: IO[Any] | None, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        request: Request | None = (parser_context or {}).get("request")
        django_request = request._request if request is not None else None
        limit = body_limit()
        if django_request is not None and declared_length(django_request) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        raw = stream.read(limit + 1) if stream is not None else b""
        encoding = django_request.META.get("HTTP_CONTENT_ENCODING", "") if django_request is not None else ""
        return decode_json(raw, content_encoding=encoding)


class IngestThrottle(ScopedRateThrottle):
    """The view's ``throttle_scope`` rate (settings), for writes only: reads are not ingestion."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
