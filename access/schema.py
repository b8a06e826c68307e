"""OpenAPI generation: every operation documents the error responses of docs/api.md ("Errors")."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
        }
    },
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `fields` names each bad field.",
    "401": "No valid credentials.",
    "403": "The user's role may not do this.",
    "404": "No such object (or page).",
    "409": "Illegal state transition or conflict.",
    "413": "The body is too large.",
    "415": "The body is not JSON.",
    "429": "Throttled.",
    "503": "The database is unavailable; retry after `Retry-After` seconds.",
}


class FunnelAutoSchema(AutoSchema):
    """Adds the error responses an operation can give; a view declares others with ``responses={404: None}``."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error = ResolvedComponent(name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA)
        self.registry.register_on_missing(error)
        responses = operation["responses"]
        declared = [
            code for code, response in responses.items() if code in ERROR_DESCRIPTIONS and not response.get("content")
        ]
        for code in {*self._error_codes(operation), *declared}:
            if code in declared or code not in responses:
                responses[code] = {
                    "description": ERROR_DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": error.ref}},
                }
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_codes(self, operation: dict[str, Any]) -> list[str]:
        places = {parameter["in"] for parameter in operation.get("parameters", [])}
        has_body = "requestBody" in operation or self.method in ("POST", "PUT", "PATCH")
        codes = ["401", "403", "503"]
        if has_body or "query" in places:
            codes.append("400")
        # A page beyond the last one is a 404 too.
        if "path" in places or (self._is_list_view() and self._get_paginator() is not None):
            codes.append("404")
        if self.method == "POST":
            codes.append("409")
        if has_body:
            codes += ["413", "415"]
        if getattr(self.view, "throttle_classes", None):
            codes.append("429")
        return codes
