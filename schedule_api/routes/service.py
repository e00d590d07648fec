"""/health, /metrics and the API's own documentation."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import swagger_ui
from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from common.instants import format_date
from schedule_api import models
from schedule_api.http.keys import CONTEXT, METRICS, SETTINGS
from schedule_api.http.openapi import Operation, openapi_document
from schedule_api.http.params import json_response

log = logging.getLogger("vchannel.schedule")
SWAGGER_STATIC = Path(swagger_ui.__file__).parent / "static"
DOCS = """<!doctype html><html><head><meta charset="utf-8"><title>vchannel schedule API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#ui"});</script></body></html>"""


async def health(request: web.Request) -> web.Response:
    try:
        await request.app[CONTEXT].store.ping()
    except Exception:
        log.exception("database ping failed")
        return json_response(models.Health(status="unavailable", database="down"), 503)
    return json_response(models.Health(status="ok", database="up"))


async def service_info(request: web.Request) -> web.Response:
    ctx, settings = request.app[CONTEXT], request.app[SETTINGS]
    now = ctx.clock.now_us()
    info = models.ServiceInfo(
        now=format_date(now),
        now_ms=now // 1000,
        lock_margin_seconds=settings.lock_margin_seconds,
        playback_base_url=settings.playback_base_url,
        reads_need_key=bool(settings.api_key) and settings.api_key_reads,
        writes_need_key=bool(settings.api_key),
    )
    return json_response(info, headers={"Cache-Control": "no-store"})


async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest(request.app[METRICS].registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def docs(request: web.Request) -> web.Response:
    return web.Response(body=DOCS.encode(), content_type="text/html")


CONSOLE = Path(__file__).resolve().parent.parent / "console"
VENDOR = Path(__file__).resolve().parents[2] / "common" / "vendor"
CONSOLE_POLICY = (
    "default-src 'self'; connect-src *; media-src * blob:; worker-src blob:; "
    "img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)
"""The console's Content-Security-Policy: its own scripts only; playlists from anywhere (the
engines' public URL); inline styles because the timeline positions its items with them."""


def add_console(app: web.Application) -> None:
    """The operator console at /console/: static files and the pinned libraries it uses; it
    talks to the REST API like any other client."""
    page = (CONSOLE / "index.html").read_bytes()

    async def index(request: web.Request) -> web.Response:
        return web.Response(
            body=page,
            content_type="text/html",
            headers={"Content-Security-Policy": CONSOLE_POLICY, "Cache-Control": "no-cache"},
        )

    async def bare(request: web.Request) -> web.Response:
        raise web.HTTPFound("/console/")

    app.router.add_get("/console", bare)
    app.router.add_get("/console/", index)
    app.router.add_static("/console/static", CONSOLE)
    app.router.add_static("/console/vendor", VENDOR)


def add_documentation(app: web.Application, operations: tuple[Operation, ...]) -> None:
    """GET /api/openapi.json (the document of `operations`) and the Swagger UI at /api/docs."""
    document = json.dumps(openapi_document(operations)).encode()

    async def openapi_json(request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs)
    app.router.add_static("/api/docs/static", SWAGGER_STATIC)


OPERATIONS = (
    Operation("GET", "/health", health, "Liveness and database reachability", 200, models.Health),
    Operation("GET", "/metrics", metrics, "Prometheus metrics", 200, media="text/plain"),
    Operation(
        "GET",
        "/api/service",
        service_info,
        "The service's clock, lock margin, playback base URL and key requirements (no key)",
        200,
        models.ServiceInfo,
    ),
)
