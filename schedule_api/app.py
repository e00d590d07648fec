"""The schedule service's HTTP API (aiohttp). One list of operations builds both the router
and the OpenAPI 3.1 document, so the two cannot disagree."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import swagger_ui
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from engine.errors import PlanError
from engine.model import US_PER_S
from engine.model import Channel as CoreChannel
from engine.plan_format import ProfileEntryModel
from engine.profile import map_renditions, profile_of
from schedule_api import models
from schedule_api.db import create_engine, migrate
from schedule_api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from schedule_api.ingest import Fetcher, ingest
from schedule_api.settings import ScheduleSettings
from schedule_api.store import Store, max_rounded_segment

log = logging.getLogger("vchannel.schedule")
PROBLEM = "application/problem+json"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
OPEN_PATHS = ("/health", "/metrics", "/api/")
SWAGGER_STATIC = Path(swagger_ui.__file__).parent / "static"

SETTINGS = web.AppKey("settings", ScheduleSettings)
STORE = web.AppKey("store", Store)
SESSION = web.AppKey("session", aiohttp.ClientSession)


class Clock:
    """Now in microseconds since the epoch; the only place the service reads the time."""

    def __call__(self) -> int:
        return time.time_ns() // 1000


CLOCK = web.AppKey("clock", Clock)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vchannel_schedule_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.ingests = Counter(
            "vchannel_schedule_ingests",
            "Asset ingests by result",
            ["result"],
            registry=self.registry,
        )


METRICS = web.AppKey("metrics", Metrics)


# --- errors -------------------------------------------------------------------------------
def problem(
    status: int,
    title: str,
    detail: str,
    invalid: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if invalid:
        body["invalid-params"] = invalid
    response = web.Response(status=status, body=json.dumps(body).encode(), content_type=PROBLEM)
    response.headers["Cache-Control"] = "no-store"
    if headers:
        response.headers.update(headers)
    return response


def _validation_problem(error: ValidationError) -> web.Response:
    invalid = []
    for item in error.errors():
        if item["type"] == "json_invalid":
            return problem(
                400,
                "Bad request",
                "body: not valid JSON",
                [{"name": "body", "reason": "not valid JSON"}],
            )
        name = ".".join(str(part) for part in item["loc"]) or "body"
        invalid.append({"name": name, "reason": item["msg"]})
    detail = "; ".join(f"{i['name']}: {i['reason']}" for i in invalid)
    return problem(422, "Unprocessable content", detail, invalid)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS, API key, problem+json for every error, and request counting."""
    settings = request.app[SETTINGS]
    origin = request.headers.get("Origin")
    allowed_origin = origin if origin and origin in settings.cors_whitelist else None
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    try:
        if request.method == "OPTIONS" and allowed_origin:
            response: web.StreamResponse = web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type",
                    "Access-Control-Max-Age": "600",
                },
            )
        else:
            _authorize(request, settings)
            response = await handler(request)
    except ApiError as error:
        invalid = [{"name": error.field, "reason": error.reason}] if error.field else None
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        response = problem(error.status, error.title, str(error), invalid, headers)
    except ValidationError as error:
        response = _validation_problem(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        field_name = "body" if error.status == 413 else None
        reason = (
            error.reason
            if error.status != 413
            else (f"larger than {settings.max_body_bytes} bytes (MAX_BODY_BYTES)")
        )
        response = problem(
            error.status,
            error.reason,
            f"{request.method} {request.path}: {reason}",
            [{"name": field_name, "reason": reason}] if field_name else None,
            {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None,
        )
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path_qs)
        response = problem(500, "Internal error", "the schedule service failed; see its log")
    if allowed_origin:
        response.headers["Access-Control-Allow-Origin"] = allowed_origin
        response.headers["Vary"] = "Origin"
    request.app[METRICS].requests.labels(route, str(response.status)).inc()
    return response


def _authorize(request: web.Request, settings: ScheduleSettings) -> None:
    if not settings.api_key or request.path.startswith(OPEN_PATHS):
        return
    if request.method not in WRITE_METHODS and not settings.api_key_reads:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), settings.api_key.encode()
    ):
        raise Unauthorized("Authorization", "send 'Authorization: Bearer <API_KEY>'")


# --- helpers ------------------------------------------------------------------------------
async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    return model.model_validate_json(await request.read())


def _json(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=model.model_dump_json().encode(),
        content_type="application/json",
        headers=headers,
    )


def _query_int(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,12}", raw):
        raise BadRequest(name, f"{raw[:40]!r} is not a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(name, f"must be between {low} and {high}")
    return value


def _slug(request: web.Request, name: str = "id") -> str:
    value = request.match_info[name]
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", value):
        raise NotFound(name, f"{value[:80]!r} is not an id")
    return value


# --- channels -----------------------------------------------------------------------------
async def create_channel(request: web.Request) -> web.Response:
    body: models.ChannelCreate = await _body(request, models.ChannelCreate)
    store = request.app[STORE]
    try:
        slate = await store.asset_core(body.slate)
    except NotFound:
        raise Unprocessable("slate", f"asset {body.slate!r} does not exist") from None
    longest = max_rounded_segment(slate)
    target = body.target_duration or max(longest, 1)
    if target < longest:
        raise Unprocessable(
            "target_duration", f"the slate has a segment of about {longest} s; use at least that"
        )
    window_us = round(body.window_seconds * US_PER_S)
    try:
        if body.profile is not None:
            core_profile = tuple(p.to_core() for p in body.profile)
        else:
            core_profile = profile_of(slate)
        CoreChannel(body.id, body.name, core_profile, target, window_us, body.slate)
        map_renditions(core_profile, slate)
    except PlanError as error:
        name = {"window": "window_seconds", "profile": "profile"}.get(
            error.field.split(".")[0], "profile"
        )
        raise Unprocessable(name, error.reason) from None
    channel = await store.create_channel(
        {
            "id": body.id,
            "name": body.name,
            "target_duration": target,
            "window_ms": window_us // 1000,
            "slate_asset_id": body.slate,
            "time_zone": body.time_zone,
            "artwork_url": body.artwork_url,
            "profile": [ProfileEntryModel.from_core(e).model_dump() for e in core_profile],
        },
        request.app[CLOCK](),
    )
    return _json(channel, 201, {"Location": f"/channels/{channel.id}"})


async def list_channels(request: web.Request) -> web.Response:
    return _json(models.ChannelList(items=await request.app[STORE].channels()))


async def get_channel(request: web.Request) -> web.Response:
    return _json(await request.app[STORE].channel(_slug(request)))


async def update_channel(request: web.Request) -> web.Response:
    channel_id = _slug(request)
    store = request.app[STORE]
    current = await store.channel(channel_id)
    body: models.ChannelUpdate = await _body(request, models.ChannelUpdate)
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "window_seconds":
            if value is None:
                raise Unprocessable("window_seconds", "may not be null")
            if value < 3 * current.target_duration:
                raise Unprocessable("window_seconds", "must be at least three target durations")
            changes["window_ms"] = round(value * 1000)
        elif value is None and name in ("name", "time_zone"):
            raise Unprocessable(name, "may not be null")
        else:
            changes[name] = value
    if not changes:
        return _json(current)
    return _json(await store.update_channel(channel_id, changes, request.app[CLOCK]()))


async def delete_channel(request: web.Request) -> web.Response:
    await request.app[STORE].delete_channel(_slug(request))
    return web.Response(status=204)


# --- assets -------------------------------------------------------------------------------
def _default_asset_id(title: str, url: str) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "asset"
    return f"{stem}-{hashlib.sha1(url.encode()).hexdigest()[:6]}"


def _fetcher(request: web.Request) -> Fetcher:
    settings = request.app[SETTINGS]
    return Fetcher(
        request.app[SESSION],
        settings.allowed_sources,
        settings.ingest_timeout_seconds,
        settings.ingest_max_playlist_bytes,
    )


async def _ingest(
    request: web.Request, asset_id: str, version: int, meta: dict[str, Any]
) -> models.Asset:
    metrics = request.app[METRICS]
    try:
        index = await ingest(_fetcher(request), asset_id, meta["url"], version, meta["title"])
    except ApiError:
        metrics.ingests.labels("refused").inc()
        raise
    metrics.ingests.labels("ok").inc()
    return await request.app[STORE].add_asset(index, meta, request.app[CLOCK]())


async def create_asset(request: web.Request) -> web.Response:
    body: models.AssetCreate = await _body(request, models.AssetCreate)
    asset_id = body.id or _default_asset_id(body.title, body.url)
    store = request.app[STORE]
    if await store.next_asset_version(asset_id) > 1:
        raise Conflict(
            "id", f"asset {asset_id!r} exists; POST /assets/{asset_id}/reingest makes a new version"
        )
    asset = await _ingest(request, asset_id, 1, body.model_dump())
    return _json(asset, 201, {"Location": f"/assets/{asset.id}"})


async def reingest_asset(request: web.Request) -> web.Response:
    asset_id = _slug(request)
    store = request.app[STORE]
    latest = await store.asset(asset_id)
    version = await store.next_asset_version(asset_id)
    meta = latest.model_dump(
        include={"url", "title", "description", "genre", "episode", "rating", "artwork_url"}
    )
    asset = await _ingest(request, asset_id, version, meta)
    return _json(asset, 201, {"Location": f"/assets/{asset.id}"})


async def list_assets(request: web.Request) -> web.Response:
    limit = _query_int(request, "limit", 50, 1, 200) or 50
    offset = _query_int(request, "offset", 0, 0, 10**9) or 0
    query = request.query.get("q", "")
    if len(query) > 100:
        raise BadRequest("q", "at most 100 characters")
    items, total = await request.app[STORE].assets(query, limit, offset)
    return _json(models.AssetPage(items=items, total=total, limit=limit, offset=offset))


async def get_asset(request: web.Request) -> web.Response:
    version = _query_int(request, "version", None, 1, 10**6)
    return _json(await request.app[STORE].asset(_slug(request), version))


async def get_asset_index(request: web.Request) -> web.Response:
    version = _query_int(request, "version", None, 1, 10**6)
    found, text = await request.app[STORE].asset_index(_slug(request), version)
    # A given version never changes: cacheable for as long as anyone likes.
    cache = "max-age=31536000, immutable" if version is not None else "no-cache"
    return web.Response(
        body=text.encode(),
        content_type="application/json",
        headers={"Cache-Control": cache, "X-Asset-Version": str(found)},
    )


async def delete_asset(request: web.Request) -> web.Response:
    await request.app[STORE].delete_asset(_slug(request))
    return web.Response(status=204)


# --- service ------------------------------------------------------------------------------
async def health(request: web.Request) -> web.Response:
    try:
        await request.app[STORE].ping()
    except Exception:
        log.exception("database ping failed")
        return _json(models.Health(status="unavailable", database="down"), 503)
    return _json(models.Health(status="ok", database="up"))


async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest(request.app[METRICS].registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


DOCS = """<!doctype html><html><head><meta charset="utf-8"><title>vchannel schedule API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#ui"});</script></body></html>"""


async def docs(request: web.Request) -> web.Response:
    return web.Response(body=DOCS.encode(), content_type="text/html")


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(
        body=json.dumps(openapi_document()).encode(), content_type="application/json"
    )


# --- operations: router and OpenAPI from one list -----------------------------------------
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


VERSION_QUERY = Query(
    "version",
    {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    "asset version (default: the latest)",
)
OPERATIONS = (
    Operation(
        "POST",
        "/channels",
        create_channel,
        "Create a channel",
        201,
        models.Channel,
        models.ChannelCreate,
        (400, 401, 409, 413, 422),
        tag="channels",
    ),
    Operation(
        "GET", "/channels", list_channels, "List channels", 200, models.ChannelList, tag="channels"
    ),
    Operation(
        "GET",
        "/channels/{id}",
        get_channel,
        "Get a channel",
        200,
        models.Channel,
        errors=(404,),
        tag="channels",
    ),
    Operation(
        "PATCH",
        "/channels/{id}",
        update_channel,
        "Change a channel",
        200,
        models.Channel,
        models.ChannelUpdate,
        (400, 401, 404, 413, 422),
        tag="channels",
    ),
    Operation(
        "DELETE",
        "/channels/{id}",
        delete_channel,
        "Delete a channel",
        204,
        errors=(401, 404),
        tag="channels",
    ),
    Operation(
        "POST",
        "/assets",
        create_asset,
        "Ingest an HLS VOD as a new asset",
        201,
        models.Asset,
        models.AssetCreate,
        (400, 401, 409, 413, 422),
        tag="assets",
    ),
    Operation(
        "GET",
        "/assets",
        list_assets,
        "List and search assets",
        200,
        models.AssetPage,
        errors=(400,),
        tag="assets",
        query=(
            Query("q", {"type": "string", "maxLength": 100}, "id or title contains"),
            Query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"),
            Query("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}, "skip"),
        ),
    ),
    Operation(
        "GET",
        "/assets/{id}",
        get_asset,
        "Get an asset with its renditions",
        200,
        models.Asset,
        errors=(400, 404),
        query=(VERSION_QUERY,),
        tag="assets",
    ),
    Operation(
        "POST",
        "/assets/{id}/reingest",
        reingest_asset,
        "Fetch the asset again as a new version",
        201,
        models.Asset,
        errors=(401, 404, 409, 422),
        tag="assets",
    ),
    Operation(
        "GET",
        "/assets/{id}/index",
        get_asset_index,
        "The immutable asset index that engines read",
        200,
        None,
        errors=(400, 404),
        query=(VERSION_QUERY,),
        tag="assets",
    ),
    Operation(
        "DELETE",
        "/assets/{id}",
        delete_asset,
        "Delete an asset and all its versions",
        204,
        errors=(401, 404, 409),
        tag="assets",
    ),
    Operation("GET", "/health", health, "Liveness and database reachability", 200, models.Health),
    Operation("GET", "/metrics", metrics, "Prometheus metrics", 200),
)
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


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 for OPERATIONS, schemas generated from the pydantic models."""
    used: list[tuple[type[BaseModel], Any]] = []
    for op in OPERATIONS:
        if op.body is not None:
            used.append((op.body, "validation"))
        if op.response is not None:
            used.append((op.response, "serialization"))
    _keys, definitions = models_json_schema(used, ref_template="#/components/schemas/{model}")
    schemas = dict(definitions.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        operation: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": op.handler.__name__,
        }
        parameters = []
        if "{id}" in op.path:
            parameters.append(
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
                }
            )
        parameters += [
            {
                "name": q.name,
                "in": "query",
                "required": False,
                "schema": q.schema,
                "description": q.description,
            }
            for q in op.query
        ]
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}
                    }
                },
            }
        responses: dict[str, Any] = {}
        if op.status == 204:
            responses["204"] = {"description": "done"}
        elif op.response is not None:
            responses[str(op.status)] = {
                "description": "ok",
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{op.response.__name__}"}
                    }
                },
            }
        else:
            kind = "text/plain" if op.path == "/metrics" else "application/json"
            responses[str(op.status)] = {"description": "ok", "content": {kind: {"schema": {}}}}
        if op.path == "/health":
            responses["503"] = {
                "description": "database unreachable",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Health"}}
                },
            }
        for status in sorted({*op.errors, 405}):
            responses[str(status)] = {
                "description": "problem",
                "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
        if op.method in WRITE_METHODS:
            operation["security"] = [{"bearer": []}, {}]
        operation["responses"] = responses
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vchannel schedule API",
            "version": "1",
            "description": "Channels and assets of vchannel. Writes need "
            "`Authorization: Bearer <API_KEY>` when the service has a key.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def create_app(settings: ScheduleSettings, *, clock: Clock | None = None) -> web.Application:
    """The schedule service. Migrations run when the app starts."""
    app = web.Application(middlewares=[middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[CLOCK] = clock or Clock()
    app[METRICS] = Metrics()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, settings.sqlite_journal_mode)
        await migrate(engine)
        app[STORE] = Store(engine)
        app[SESSION] = aiohttp.ClientSession(headers={"User-Agent": "vchannel-ingest"})
        yield
        await app[SESSION].close()
        await engine.dispose()

    app.cleanup_ctx.append(resources)
    for op in OPERATIONS:
        app.router.add_route(op.method, op.path, op.handler)
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs)
    app.router.add_static("/api/docs/static", SWAGGER_STATIC)
    return app
