"""The one mapping from errors to RFC 9457 problem+json responses, for both services.

Every error response is `application/problem+json` with `Cache-Control: no-store` (a CDN
keeps an error for at least its error-caching TTL otherwise); an error that names a field
lists it in `invalid-params`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping

from aiohttp import web

from common.errors import (
    Conflict,
    Invalid,
    Malformed,
    NotFound,
    NotReady,
    Unauthorized,
    VChannelError,
)
from common.instants import US_PER_S

PROBLEM_TYPE = "application/problem+json"
STATUS: tuple[tuple[type[VChannelError], int, str], ...] = (
    (Malformed, 400, "Bad request"),
    (Unauthorized, 401, "Unauthorized"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (Invalid, 422, "Unprocessable content"),
    (NotReady, 503, "Not available yet"),
)
"""Status and title of each kind of error."""


def problem(
    status: int,
    title: str,
    detail: str,
    invalid: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An RFC 9457 problem response that no cache keeps; `invalid` names bad fields."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if invalid:
        body["invalid-params"] = [{"name": n, "reason": r} for n, r in invalid.items()]
    response = web.Response(
        status=status, body=json.dumps(body).encode(), content_type=PROBLEM_TYPE
    )
    response.headers["Cache-Control"] = "no-store"
    if headers:
        response.headers.update(headers)
    return response


def status_of(error: VChannelError) -> tuple[int, str]:
    """(status, title) of an error's kind; 500 for an error of no kind."""
    for kind, status, title in STATUS:
        if isinstance(error, kind):
            return status, title
    return 500, "Internal error"


def error_problem(error: VChannelError, now_us: int) -> web.Response:
    """The problem response for an error; `now_us` dates a Retry-After."""
    status, title = status_of(error)
    headers: dict[str, str] = {}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, NotReady):
        wait_s = math.ceil((error.until_us - now_us) / US_PER_S)
        headers["Retry-After"] = str(max(1, wait_s))
    invalid = {error.field: error.reason} if error.field else None
    return problem(status, title, error.detail, invalid, headers)


def http_problem(request: web.Request, error: web.HTTPException, reason: str) -> web.Response:
    """The problem response for one of aiohttp's own errors (404 no route, 405, 413...)."""
    allow = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
    invalid = {"body": reason} if error.status == 413 else None
    return problem(
        error.status, error.reason, f"{request.method} {request.path}: {reason}", invalid, allow
    )


def internal_problem(log: logging.Logger, request: web.Request, service: str) -> web.Response:
    """500 for a bug: logged with its traceback, never shown to the client."""
    log.exception("unexpected error serving %s %s", request.method, request.path_qs)
    return problem(500, "Internal error", f"the {service} failed; see its log")
