"""CORS, the API key, problem+json for every error (common/problem.py), request counting."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import ValidationError

from common.errors import Unauthorized, VChannelError
from common.problem import error_problem, http_problem, internal_problem, problem
from schedule_api.http.keys import CLOCK, METRICS, SETTINGS
from schedule_api.settings import ScheduleSettings

log = logging.getLogger("vchannel.schedule")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
OPEN_PATHS = ("/health", "/metrics", "/api/", "/console/")
PUBLIC_READS = re.compile(r"/channels/[a-z0-9][a-z0-9_-]{0,62}/now")
"""Reads that need no key even with API_KEY_READS: now/next is what any guide shows, and
player pages read it from the browser, where no key may go."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def validation_problem(error: ValidationError) -> web.Response:
    """422 naming every invalid field of a body (400 when it is not JSON at all)."""
    invalid: dict[str, str] = {}
    for item in error.errors():
        if item["type"] == "json_invalid":
            return problem(400, "Bad request", "body: not valid JSON", {"body": "not valid JSON"})
        name = ".".join(str(part) for part in item["loc"]) or "body"
        invalid.setdefault(name, item["msg"])
    detail = "; ".join(f"{name}: {reason}" for name, reason in invalid.items())
    return problem(422, "Unprocessable content", detail, invalid)


def authorize(request: web.Request, settings: ScheduleSettings) -> None:
    """Unauthorized unless the request may go ahead: writes need the API key when the service
    has one, and reads too with API_KEY_READS."""
    if not settings.api_key or request.path.startswith(OPEN_PATHS):
        return
    if request.method not in WRITE_METHODS and (
        not settings.api_key_reads or PUBLIC_READS.fullmatch(request.path)
    ):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), settings.api_key.encode()
    ):
        raise Unauthorized("Authorization", "send 'Authorization: Bearer <API_KEY>'")


def _preflight() -> web.Response:
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "600",
        },
    )


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    origin = request.headers.get("Origin")
    allowed_origin = origin if origin and origin in settings.cors_whitelist else None
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    try:
        if request.method == "OPTIONS" and allowed_origin:
            response: web.StreamResponse = _preflight()
        else:
            authorize(request, settings)
            response = await handler(request)
    except VChannelError as error:
        response = error_problem(error, request.app[CLOCK].now_us())
    except ValidationError as error:
        response = validation_problem(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        reason = error.reason
        if error.status == 413:
            reason = f"larger than {settings.max_body_bytes} bytes (MAX_BODY_BYTES)"
        response = http_problem(request, error, reason)
    except Exception:
        response = internal_problem(log, request, "schedule service")
    if allowed_origin:
        response.headers["Access-Control-Allow-Origin"] = allowed_origin
        response.headers["Vary"] = "Origin"
    request.app[METRICS].requests.labels(route, str(response.status)).inc()
    return response
