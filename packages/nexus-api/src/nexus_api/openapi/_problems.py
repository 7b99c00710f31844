"""Schemas of the problem details bodies (RFC 9457) that nexus-api answers with."""

from __future__ import annotations

from typing import Any

from nexus_api.errors import PROBLEM_CONTENT_TYPE, problem_type_uri

PROBLEM = "Problem"
VALIDATION_PROBLEM = "ValidationProblem"
UNSUPPORTED_VERSION_PROBLEM = "UnsupportedVersionProblem"
VERSION_SUNSET_PROBLEM = "VersionSunsetProblem"


def _extends(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        extra["required"] = required
    return {"allOf": [{"$ref": f"#/components/schemas/{PROBLEM}"}, extra]}


_VERSIONS_LIST = {"type": "array", "items": {"type": "string"}, "description": "Versions still served."}

COMPONENTS: dict[str, dict[str, Any]] = {
    PROBLEM: {
        "type": "object",
        "description": f"RFC 9457 problem details, served as `{PROBLEM_CONTENT_TYPE}`.",
        "properties": {
            "type": {
                "type": "string",
                "format": "uri-reference",
                "description": "Identifies the kind of problem; stable, one per error code.",
            },
            "title": {"type": "string", "description": "Short summary of the kind of problem."},
            "status": {"type": "integer", "description": "The HTTP status code."},
            "detail": {"type": "string", "description": "What went wrong in this occurrence."},
            "instance": {"type": "string", "format": "uri-reference", "description": "The request path."},
            "code": {
                "type": "string",
                "description": "Machine-readable error code (`type` is derived from it).",
            },
            "request_id": {"type": "string", "description": "Quote it when reporting the problem."},
            "retry_after": {"type": "integer", "description": "Seconds to wait (throttling only)."},
        },
        "required": ["type", "title", "status"],
        "additionalProperties": True,
    },
    VALIDATION_PROBLEM: _extends(
        {
            "errors": {
                "type": "object",
                "description": "Field name -> list of messages; nested objects for nested fields, "
                "`non_field_errors` for the object as a whole.",
                "additionalProperties": {
                    "oneOf": [
                        {"type": "array", "items": {}},
                        {"type": "object", "additionalProperties": True},
                    ]
                },
            }
        },
        ["errors"],
    ),
    UNSUPPORTED_VERSION_PROBLEM: _extends({"supported_versions": _VERSIONS_LIST}, ["supported_versions"]),
    VERSION_SUNSET_PROBLEM: _extends(
        {
            "version": {"type": "string"},
            "sunset": {"type": "string", "format": "date"},
            "supported_versions": _VERSIONS_LIST,
        },
        ["version", "sunset", "supported_versions"],
    ),
}


def example(code: str, status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": problem_type_uri(code),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "/api/...",
        "code": code,
        "request_id": "4f0c6f3e0d8a4b9e8f1c2d3e4f5a6b7c",
        **extra,
    }
