"""Operations and the OpenAPI 3.1 document: one list of operations (schedule_api/routes)
builds both the router and the document, so the two cannot disagree."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from common.problem import PROBLEM_TYPE
from schedule_api.http.middleware import WRITE_METHODS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Query:
    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    status: int
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    query: tuple[Query, ...] = field(default_factory=tuple)
    tag: str = "service"
    media: str = "application/json"
    """The response's content type when it has no model."""
    alternatives: tuple[str, ...] = ()
    """Other content types the response can have (e.g. text/csv on request)."""


TIME_SCHEMA = {"type": "string", "maxLength": 40, "examples": ["2026-11-23T18:00:00Z"]}
"""Query instants: RFC 3339 or Unix milliseconds."""
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "invalid-params": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "reason"],
                "properties": {"name": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}


def _schemas(operations: Sequence[Operation]) -> dict[str, Any]:
    """JSON schemas of every body and response model, and the problem document."""
    used: list[tuple[type[BaseModel], Any]] = []
    for op in operations:
        if op.body is not None:
            used.append((op.body, "validation"))
        if op.response is not None:
            used.append((op.response, "serialization"))
    _keys, definitions = models_json_schema(used, ref_template="#/components/schemas/{model}")
    schemas = dict(definitions.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    return schemas


def _json_content(model: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    """The path ids (slugs), then the query parameters."""
    path = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
        }
        for name in re.findall(r"{([a-z_]+)}", op.path)
    ]
    query = [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "schema": q.schema,
            "description": q.description,
        }
        for q in op.query
    ]
    return path + query


def _responses(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if op.status == 204:
        responses["204"] = {"description": "done"}
    elif op.response is not None:
        responses[str(op.status)] = {
            "description": "ok",
            "content": _json_content(op.response.__name__),
        }
    else:
        responses[str(op.status)] = {
            "description": "ok",
            "content": {op.media: {"schema": {"type": "string"}}},
        }
    for media in op.alternatives:
        responses[str(op.status)]["content"][media] = {"schema": {"type": "string"}}
    if op.path == "/health":
        responses["503"] = {
            "description": "database unreachable",
            "content": _json_content("Health"),
        }
    for status in sorted({*op.errors, 405}):
        responses[str(status)] = {
            "description": "problem",
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return responses


def _operation(op: Operation) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": op.handler.__name__,
    }
    parameters = _parameters(op)
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {"required": True, "content": _json_content(op.body.__name__)}
    if op.method in WRITE_METHODS:
        operation["security"] = [{"bearer": []}, {}]
    operation["responses"] = _responses(op)
    return operation


def openapi_document(operations: Sequence[Operation]) -> dict[str, Any]:
    """OpenAPI 3.1 for the operations, schemas generated from the pydantic models."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vchannel schedule API",
            "version": "1",
            "description": "Channels, assets, events, schedules and the plan feed of "
            "vchannel. Writes need "
            "`Authorization: Bearer <API_KEY>` when the service has a key.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(operations),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
