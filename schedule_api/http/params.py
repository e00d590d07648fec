"""Reading request parameters: each refusal is Malformed (400) or NotFound naming the
parameter; bodies are validated by their pydantic model (422 naming each field)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel

from common.errors import Malformed, NotFound
from common.instants import RANGE_TEXT, in_range, to_us

SLUG = r"[a-z0-9][a-z0-9_-]{0,62}"
"""Ids of channels, assets, events, rules and jobs."""
_Model = TypeVar("_Model", bound=BaseModel)


async def body(request: web.Request, model: type[_Model]) -> _Model:
    return model.model_validate_json(await request.read())


def json_response(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=model.model_dump_json().encode(),
        content_type="application/json",
        headers=headers,
    )


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within [low, high], or the default when absent."""
    found = optional_int(request, name, low, high)
    return default if found is None else found


def optional_int(request: web.Request, name: str, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,15}", raw):
        raise Malformed(name, f"{raw[:40]!r} is not a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise Malformed(name, f"must be between {low} and {high}")
    return value


def slug(request: web.Request, name: str = "id") -> str:
    """A path id; NotFound when it cannot be one."""
    value = request.match_info[name]
    if not re.fullmatch(SLUG, value):
        raise NotFound(name, f"{value[:80]!r} is not an id")
    return value


def query_time(request: web.Request, name: str) -> int | None:
    """A query instant: RFC 3339 (with a zone) or Unix milliseconds; None when absent."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if re.fullmatch(r"[0-9]{1,13}", raw):
        instant = int(raw) * 1000
    else:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise Malformed(name, "must be RFC 3339 with a zone (2026-11-23T18:00:00Z) or Unix ms")
        instant = to_us(moment)
    if not in_range(instant):
        raise Malformed(name, f"must be {RANGE_TEXT}")
    return instant


def query_flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise Malformed(name, "must be true or false")
    return raw in ("true", "1")


def day_range(day: str, zone: str) -> tuple[int, int]:
    """[start, end) of a local day (YYYY-MM-DD) in a time zone, in microseconds."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise Malformed("date", "must be YYYY-MM-DD") from None
    if not 1970 <= parsed.year < 2286:  # the years of RANGE_TEXT (common/instants.py)
        raise Malformed("date", "must be between 1970 and 2285")
    tz = ZoneInfo(zone)
    start = datetime.combine(parsed, datetime.min.time(), tz)
    end = datetime.combine(parsed + timedelta(days=1), datetime.min.time(), tz)
    return to_us(start), to_us(end)
