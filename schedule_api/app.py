"""The schedule service's HTTP API (aiohttp). One list of operations builds both the router
and the OpenAPI 3.1 document, so the two cannot disagree."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import swagger_ui
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from engine.errors import PlanError
from engine.model import US_PER_S, AssetKey
from engine.model import Channel as CoreChannel
from engine.plan_format import PlanModel, ProfileEntryModel, to_us
from engine.profile import map_renditions, profile_of
from engine.render import format_date
from engine.timeline import track_mismatch
from schedule_api import guide, models, rules
from schedule_api.db import create_engine, migrate
from schedule_api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from schedule_api.ingest import Fetcher, ingest, ingest_session
from schedule_api.settings import ScheduleSettings
from schedule_api.store import EventSpec, PlanPage, Store, max_rounded_segment, new_event_id

log = logging.getLogger("vchannel.schedule")
NOW_NEXT_REACH_US = 48 * 3600 * US_PER_S
"""How far ahead now/next looks for the next program."""
PROBLEM = "application/problem+json"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
OPEN_PATHS = ("/health", "/metrics", "/api/")
SWAGGER_STATIC = Path(swagger_ui.__file__).parent / "static"

SETTINGS = web.AppKey("settings", ScheduleSettings)
STORE = web.AppKey("store", Store)
SESSION = web.AppKey("session", aiohttp.ClientSession)
JOBS = web.AppKey("jobs", set["asyncio.Task[None]"])


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
        self.rule_runs = Counter(
            "vchannel_schedule_rule_runs",
            "Rule materialisations by the scheduler job, by result",
            ["result"],
            registry=self.registry,
        )
        self.rule_events = Counter(
            "vchannel_schedule_rule_events_created",
            "Events created by rules",
            registry=self.registry,
        )
        self.compactions = Counter(
            "vchannel_schedule_plan_compactions",
            "Plans whose start moved up to the retention limit",
            registry=self.registry,
        )
        self.ingests = Counter(
            "vchannel_schedule_ingests",
            "Asset ingests by result",
            ["result"],
            registry=self.registry,
        )


METRICS = web.AppKey("metrics", Metrics)
FeedPageKey = tuple[int, int | None, str, int, int]
"""(since, until, after, limit, latest revision): a page of the plan feed."""
FEED_PAGES = web.AppKey("feed_pages", OrderedDict[FeedPageKey, bytes])
FEED_BUILDS = web.AppKey("feed_builds", dict[FeedPageKey, "asyncio.Future[tuple[bytes, int]]"])
"""Pages being built now: a request for one waits for that build instead of starting its own."""


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
        core = CoreChannel(
            body.id,
            body.name,
            core_profile,
            target,
            window_us,
            body.slate,
            audio_tracks=tuple(t.to_core() for t in body.audio_tracks),
            subtitle_tracks=tuple(t.to_core() for t in body.subtitle_tracks),
            subtitle_target_duration_s=body.subtitle_target_duration,
        )
        map_renditions(core_profile, slate)
    except PlanError as error:
        head = error.field.split(".")[0]
        name = {
            "window": "window_seconds",
            "audio_tracks": "audio_tracks",
            "subtitle_tracks": "subtitle_tracks",
            "subtitle_target_duration": "subtitle_target_duration",
        }.get(head, "profile")
        raise Unprocessable(name, error.reason) from None
    mismatch = track_mismatch(core, slate)
    if mismatch is not None:
        raise Unprocessable("audio_tracks", f"the slate {mismatch}")
    channel = await store.create_channel(
        {
            "id": body.id,
            "name": body.name,
            "target_duration": target,
            "window_ms": window_us // 1000,
            "slate_asset_id": body.slate,
            "slate_version": slate.version,
            "time_zone": body.time_zone,
            "artwork_url": body.artwork_url,
            "group_title": body.group,
            "max_shift_seconds": body.max_shift_seconds,
            "profile": [ProfileEntryModel.from_core(e).model_dump() for e in core_profile],
            "ad_markers": body.ad_markers.model_dump(),
            "break_rule": None if body.break_rule is None else body.break_rule.model_dump(),
            "audio_tracks": [t.model_dump() for t in body.audio_tracks],
            "subtitle_tracks": [t.model_dump() for t in body.subtitle_tracks],
            "subtitle_target_duration": body.subtitle_target_duration,
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
        elif value is None and name in (
            "name",
            "time_zone",
            "group",
            "max_shift_seconds",
            "ad_markers",
            "audio_tracks",
            "subtitle_tracks",
        ):
            raise Unprocessable(name, "may not be null")
        elif name == "group":
            changes["group_title"] = value
        elif name == "ad_markers":
            if value.splice_command != current.ad_markers.splice_command:
                raise Unprocessable(
                    "ad_markers.splice_command",
                    "is fixed for the channel's life: breaks already announced would change "
                    "their SCTE35 attributes (RFC 8216 4.3.2.7)",
                )
            changes[name] = value.model_dump()
        elif name == "audio_tracks":
            if bool(value) != bool(current.audio_tracks):
                raise Unprocessable(
                    "audio_tracks",
                    "may change, but not between none and some: the channel's assets carry "
                    "their audio either in the video (none) or as separate tracks (some)",
                )
            changes[name] = [t.model_dump() for t in value]
        elif name == "subtitle_tracks":
            changes[name] = [t.model_dump() for t in value]
        elif name == "break_rule":
            changes[name] = None if value is None else value.model_dump()
        else:
            changes[name] = value
    if "audio_tracks" in changes or "subtitle_tracks" in changes:
        _check_tracks(current, body)
    if not changes:
        return _json(current)
    return _json(await store.update_channel(channel_id, changes, request.app[CLOCK]()))


def _check_tracks(current: models.Channel, body: models.ChannelUpdate) -> None:
    """422 naming the tracks field when the channel with the changed tracks would be invalid
    (engine.model.Channel checks names against variants and each other, languages, defaults)."""
    audio = current.audio_tracks if body.audio_tracks is None else body.audio_tracks
    subtitles = current.subtitle_tracks if body.subtitle_tracks is None else body.subtitle_tracks
    try:
        CoreChannel(
            current.id,
            current.name,
            tuple(entry.to_core() for entry in current.profile),
            current.target_duration,
            round(current.window_seconds * US_PER_S),
            current.slate,
            audio_tracks=tuple(track.to_core() for track in audio),
            subtitle_tracks=tuple(track.to_core() for track in subtitles),
            subtitle_target_duration_s=current.subtitle_target_duration,
        )
    except PlanError as error:
        field = error.field.split(".")[0]
        if field not in body.model_fields_set:  # a clash with a kept track: name what changed
            field = "audio_tracks" if "audio_tracks" in body.model_fields_set else "subtitle_tracks"
        raise Unprocessable(field, error.reason) from None


async def delete_channel(request: web.Request) -> web.Response:
    await request.app[STORE].delete_channel(_slug(request), request.app[CLOCK]())
    return web.Response(status=204)


# --- events -------------------------------------------------------------------------------
FAR_FUTURE_US = models.MAX_EVENT_MS * 1000


def _margin_us(request: web.Request) -> int:
    return request.app[SETTINGS].lock_margin_seconds * US_PER_S


def _seconds_us(value: float | None) -> int | None:
    return None if value is None else round(value * US_PER_S)


def _start_us(body: models._EventFields) -> int | None:
    if body.start is not None:
        return to_us(body.start)
    if body.start_ms is not None:
        return body.start_ms * 1000
    return None


def _spec(body: models.EventCreate, field_name: str = "") -> EventSpec:
    start = _start_us(body)
    assert start is not None  # EventCreate requires one of start / start_ms
    return EventSpec(
        id=body.id or new_event_id(),
        asset_id=body.asset,
        version=body.version,
        start_us=start,
        clip_in_us=_seconds_us(body.clip_in_seconds),
        clip_out_us=_seconds_us(body.clip_out_seconds),
        title=body.title,
        field=field_name,
        breaks=_breaks(body.breaks),
    )


def _breaks(
    breaks: list[models.BreakRequest] | None,
) -> tuple[tuple[int, int], ...] | None:
    if breaks is None:
        return None
    return tuple(
        (round(b.offset_seconds * US_PER_S), round(b.duration_seconds * US_PER_S)) for b in breaks
    )


def _query_time(request: web.Request, name: str) -> int | None:
    """A query instant: RFC 3339 (with a zone) or Unix milliseconds; None when absent."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if re.fullmatch(r"[0-9]{1,13}", raw):
        return int(raw) * 1000
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or not 1970 <= moment.year < 2286:
        raise BadRequest(name, "must be RFC 3339 with a zone (2026-11-23T18:00:00Z) or Unix ms")
    return to_us(moment)


async def create_event(request: web.Request) -> web.Response:
    channel_id = _slug(request)
    body: models.EventCreateOne = await _body(request, models.EventCreateOne)
    (event,) = await request.app[STORE].write_events(
        channel_id,
        [_spec(body)],
        replace=body.replace,
        now_us=request.app[CLOCK](),
        margin_us=_margin_us(request),
    )
    return _json(event, 201, {"Location": f"/channels/{channel_id}/events/{event.id}"})


async def create_events(request: web.Request) -> web.Response:
    channel_id = _slug(request)
    body: models.EventBatch = await _body(request, models.EventBatch)
    specs = [_spec(event, f"events.{i}") for i, event in enumerate(body.events)]
    ids = [spec.id for spec in specs]
    for i, spec in enumerate(specs):
        if ids.index(spec.id) != i:
            raise Unprocessable(f"events.{i}.id", f"{spec.id!r} appears twice in the request")
    items = await request.app[STORE].write_events(
        channel_id,
        specs,
        replace=body.replace,
        now_us=request.app[CLOCK](),
        margin_us=_margin_us(request),
    )
    return _json(models.EventList(items=items), 201)


async def list_events(request: web.Request) -> web.Response:
    channel_id = _slug(request)
    start = _query_time(request, "start")
    end = _query_time(request, "end")
    start = request.app[CLOCK]() if start is None else start
    end = FAR_FUTURE_US if end is None else end
    if end <= start:
        raise BadRequest("end", "must be after start")
    limit = _query_int(request, "limit", 500, 1, 5000) or 500
    items = await request.app[STORE].events(channel_id, start, end, limit)
    return _json(models.EventList(items=items))


async def get_event(request: web.Request) -> web.Response:
    return _json(await request.app[STORE].event(_slug(request), _slug(request, "event_id")))


async def update_event(request: web.Request) -> web.Response:
    channel_id, event_id = _slug(request), _slug(request, "event_id")
    store = request.app[STORE]
    current = await store.event_spec(channel_id, event_id)
    body: models.EventUpdate = await _body(request, models.EventUpdate)
    given = body.model_fields_set
    for name in ("asset", "version"):
        if name in given and getattr(body, name) is None:
            raise Unprocessable(name, "may not be null")
    asset = body.asset if body.asset is not None else current.asset_id
    if body.version is not None:
        version: int | None = body.version
    else:  # a different asset plays its latest version unless the request names one
        version = current.version if asset == current.asset_id else None
    start = _start_us(body)
    spec = replace(
        current,
        asset_id=asset,
        version=version,
        start_us=current.start_us if start is None else start,
        clip_in_us=(
            _seconds_us(body.clip_in_seconds) if "clip_in_seconds" in given else current.clip_in_us
        ),
        clip_out_us=(
            _seconds_us(body.clip_out_seconds)
            if "clip_out_seconds" in given
            else current.clip_out_us
        ),
        title=body.title if "title" in given else current.title,
        breaks=_breaks(body.breaks) if "breaks" in given else current.breaks,
    )
    (event,) = await store.write_events(
        channel_id,
        [spec],
        replace=body.replace,
        now_us=request.app[CLOCK](),
        margin_us=_margin_us(request),
        updating=event_id,
    )
    return _json(event)


async def delete_event(request: web.Request) -> web.Response:
    await request.app[STORE].delete_event(
        _slug(request),
        _slug(request, "event_id"),
        now_us=request.app[CLOCK](),
        margin_us=_margin_us(request),
    )
    return web.Response(status=204)


# --- schedule and plans -------------------------------------------------------------------
def _day_range(day: str, zone: str) -> tuple[int, int]:
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise BadRequest("date", "must be YYYY-MM-DD") from None
    if not 1970 <= parsed.year < 2286:
        raise BadRequest("date", "must be between 1970 and 2285")
    tz = ZoneInfo(zone)
    start = datetime.combine(parsed, datetime.min.time(), tz)
    end = datetime.combine(parsed + timedelta(days=1), datetime.min.time(), tz)
    return to_us(start), to_us(end)


async def get_schedule(request: web.Request) -> web.Response:
    """What airs, with the real segment-snapped times of the timeline engines play."""
    channel_id = _slug(request)
    store = request.app[STORE]
    channel = await store.channel(channel_id)
    if "date" in request.query:
        if "start" in request.query or "end" in request.query:
            raise BadRequest("date", "give date, or start and end, not both")
        start, end = _day_range(request.query["date"], channel.time_zone)
    else:
        now = request.app[CLOCK]()
        start = _query_time(request, "start") or now
        end = _query_time(request, "end") or start + 24 * 3600 * US_PER_S
        if end <= start:
            raise BadRequest("end", "must be after start")
        if end - start > 31 * 24 * 3600 * US_PER_S:
            raise BadRequest("end", "at most 31 days after start")
    timeline = await store.timeline(channel_id)
    if start < timeline.start_us:  # before the compacted plan: read the whole history
        timeline = await store.timeline(channel_id, full=True)
    items = []
    for program in guide.programmes(timeline, start, end, include_filler=False):
        # programs always end and always have a scheduled start (guide.airings)
        assert program.end_us is not None
        assert program.scheduled_start_us is not None
        items.append(
            models.ScheduleEntry(
                id=program.event_id or "",
                channel_id=channel_id,
                asset_id=program.asset.id,
                asset_version=program.asset.version,
                title=program.title,
                start_time=program.start_us // 1000,
                end_time=program.end_us // 1000,
                start=format_date(program.start_us),
                end=format_date(program.end_us),
                duration=(program.end_us - program.start_us) / US_PER_S,
                scheduled_start=format_date(program.scheduled_start_us),
                scheduled_start_time=program.scheduled_start_us // 1000,
            )
        )
    return _json(
        models.Schedule(
            channel_id=channel_id, start=format_date(start), end=format_date(end), items=items
        )
    )


def _airing(airing: guide.Airing) -> models.Airing:
    return models.Airing(
        kind=airing.kind.value,
        event_id=airing.event_id,
        asset_id=airing.asset.id,
        asset_version=airing.asset.version,
        title=airing.title,
        start=format_date(airing.start_us),
        start_ms=airing.start_us // 1000,
        end=None if airing.end_us is None else format_date(airing.end_us),
        end_ms=None if airing.end_us is None else airing.end_us // 1000,
    )


async def get_now(request: web.Request) -> web.Response:
    """What is on now, how far in, and what comes next (filler and slate included)."""
    channel_id = _slug(request)
    timeline = await request.app[STORE].timeline(channel_id)
    now = request.app[CLOCK]()
    if now < timeline.start_us:
        raise Conflict(
            "id", f"channel {channel_id!r} goes on air at {format_date(timeline.start_us)}"
        )
    entries = guide.programmes(timeline, now, now + NOW_NEXT_REACH_US, include_filler=True)
    current = entries[0]
    following = entries[1] if len(entries) > 1 else None
    progress = None
    if current.end_us is not None:
        progress = (now - current.start_us) / (current.end_us - current.start_us)
    return _json(
        models.NowNext(
            channel_id=channel_id,
            now=format_date(now),
            current=_airing(current),
            progress_seconds=(now - current.start_us) / US_PER_S,
            progress=progress,
            next=None if following is None else _airing(following),
        ),
        headers={"Cache-Control": "max-age=1"},
    )


def _query_flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise BadRequest(name, "must be true or false")
    return raw in ("true", "1")


async def get_epg(request: web.Request) -> web.Response:
    """XMLTV for all channels or those named by `channel`, from the current hour for `days`."""
    store = request.app[STORE]
    days = _query_int(request, "days", 2, 1, 14) or 2
    include_filler = _query_flag(request, "filler")
    wanted = request.query.getall("channel", [])
    channels = await store.channels()
    known = {c.id for c in channels}
    for i, channel_id in enumerate(wanted):
        if channel_id not in known:
            raise NotFound(f"channel.{i}", f"channel {channel_id!r} does not exist")
    if wanted:
        channels = [c for c in channels if c.id in wanted]
    now = request.app[CLOCK]()
    start = now - now % (3600 * US_PER_S)
    end = start + days * 86_400 * US_PER_S
    listed = []
    for channel in channels:
        timeline = await store.timeline(channel.id)
        entries = guide.programmes(timeline, start, end, include_filler)
        listed.append(
            guide.GuideChannel(channel.xmltv_id, channel.name, channel.artwork_url, entries)
        )
    keys = {e.asset.key for c in listed for e in c.entries}
    body = guide.xmltv_document(listed, await store.program_info(keys))
    return web.Response(
        body=body,
        content_type="application/xml",
        headers={"Cache-Control": "max-age=60"},
    )


async def get_m3u(request: web.Request) -> web.Response:
    """Extended M3U of every channel, pointing at the engine's public playback URL."""
    base = request.query.get("base", request.app[SETTINGS].playback_base_url).rstrip("/")
    if not re.fullmatch(r"https?://[^\s/\"]+[^\s\"]*", base) or len(base) > 500:
        raise BadRequest(
            "base", "must be an http(s) URL, e.g. https://d111111abcdef8.cloudfront.net"
        )
    channels = await request.app[STORE].channels()
    entries = [
        guide.PlaylistEntry(c.xmltv_id, c.name, c.artwork_url, c.group, f"{base}{c.playback_path}")
        for c in channels
    ]
    guide_url = f"{request.url.origin()}/epg.xml"
    return web.Response(
        body=guide.m3u_playlist(entries, guide_url),
        content_type="audio/x-mpegurl",
        headers={"Cache-Control": "max-age=60"},
    )


async def get_as_run(request: web.Request) -> web.Response:
    """What aired on a local day (up to now): JSON, or CSV with format=csv."""
    channel_id = _slug(request)
    store = request.app[STORE]
    channel = await store.channel(channel_id)
    if "date" not in request.query:
        raise BadRequest("date", "is required (YYYY-MM-DD, in the channel's time zone)")
    kind = request.query.get("format", "json")
    if kind not in ("json", "csv"):
        raise BadRequest("format", "must be json or csv")
    start, end = _day_range(request.query["date"], channel.time_zone)
    timeline = await store.timeline(channel_id, full=True)
    until = min(end, request.app[CLOCK]())
    aired = guide.airings(timeline, start, until) if until > start else []
    items = []
    for airing in aired:
        begin, finish = guide.clipped(airing, start, until)
        seconds = (finish - begin) / US_PER_S
        items.append(
            models.AsRunEntry(
                kind=airing.kind.value,
                event_id=airing.event_id,
                asset_id=airing.asset.id,
                asset_version=airing.asset.version,
                title=airing.title,
                start=format_date(begin),
                end=format_date(finish),
                start_ms=begin // 1000,
                end_ms=finish // 1000,
                duration_seconds=seconds,
                slate_seconds=seconds if airing.kind is guide.AiringKind.SLATE else 0.0,
            )
        )
    if kind == "csv":
        return web.Response(
            body=guide.as_run_csv(item.model_dump() for item in items),
            content_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{channel_id}-'
                f'{request.query["date"]}-as-run.csv"'
            },
        )
    hours = guide.slate_per_hour(aired, start, until) if until > start else []
    return _json(
        models.AsRun(
            channel_id=channel_id,
            date=request.query["date"],
            start=format_date(start),
            end=format_date(end),
            items=items,
            slate_seconds=sum(item.slate_seconds for item in items),
            hours=[
                models.AsRunHour(start=format_date(h), slate_seconds=us / US_PER_S)
                for h, us in hours
            ],
            max_slate_seconds_per_hour=max((us for _h, us in hours), default=0) / US_PER_S,
        )
    )


# --- rules --------------------------------------------------------------------------------
def _rule_spec(body: models.RuleCreate) -> dict[str, Any]:
    spec = body.model_dump(mode="json", exclude={"id", "kind", "start"}, exclude_none=True)
    if body.kind == "shuffle" and body.seed is None:
        spec["seed"] = secrets.randbelow(2**31)
    return spec


def _planned(placements: tuple[rules.Placement, ...], limit: int) -> list[models.PlannedEvent]:
    return [
        models.PlannedEvent(
            asset=p.asset.id,
            version=p.asset.version,
            title=p.asset.title,
            start=format_date(p.start_us),
            start_ms=p.start_us // 1000,
            end=format_date(p.end_us),
            end_ms=p.end_us // 1000,
            duration_seconds=p.duration_us / US_PER_S,
            cut=p.cut,
            occurrence=p.occurrence,
        )
        for p in placements[:limit]
    ]


async def create_rule(request: web.Request) -> web.Response:
    """Store a rule and materialise it at once; the scheduler job keeps it topped up."""
    channel_id = _slug(request)
    body: models.RuleCreate = await _body(request, models.RuleCreate)
    limit = _query_int(request, "limit", 100, 0, 5000) or 0
    store = request.app[STORE]
    rule_id = body.id or f"rule-{secrets.token_hex(6)}"
    now, margin = request.app[CLOCK](), _margin_us(request)
    await store.create_rule(
        channel_id,
        rule_id,
        body.kind,
        _rule_spec(body),
        None if body.start is None else to_us(body.start),
        now_us=now,
        margin_us=margin,
    )
    placements = await store.materialise_rule(channel_id, rule_id, now_us=now, margin_us=margin)
    request.app[METRICS].rule_events.inc(len(placements))
    rule = await store.rule(channel_id, rule_id)
    return _json(
        models.RuleRun(rule=rule, created=len(placements), events=_planned(placements, limit)),
        201,
        {"Location": f"/channels/{channel_id}/rules/{rule_id}"},
    )


async def preview_rule(request: web.Request) -> web.Response:
    """What a rule would create now, without creating anything."""
    channel_id = _slug(request)
    body: models.RuleCreate = await _body(request, models.RuleCreate)
    limit = _query_int(request, "limit", 100, 0, 5000) or 0
    placements = await request.app[STORE].preview_rule(
        channel_id,
        body.kind,
        _rule_spec(body),
        None if body.start is None else to_us(body.start),
        now_us=request.app[CLOCK](),
        margin_us=_margin_us(request),
        horizon_us=round(body.horizon_hours * 3600 * US_PER_S),
    )
    return _json(
        models.RuleRun(rule=None, created=len(placements), events=_planned(placements, limit))
    )


async def list_rules(request: web.Request) -> web.Response:
    return _json(models.RuleList(items=await request.app[STORE].channel_rules(_slug(request))))


async def get_rule(request: web.Request) -> web.Response:
    return _json(await request.app[STORE].rule(_slug(request), _slug(request, "rule_id")))


async def delete_rule(request: web.Request) -> web.Response:
    await request.app[STORE].delete_rule(
        _slug(request),
        _slug(request, "rule_id"),
        keep_events=_query_flag(request, "keep_events"),
        now_us=request.app[CLOCK](),
        margin_us=_margin_us(request),
    )
    return web.Response(status=204)


async def materialise_rules(app: web.Application) -> int:
    """Top up every rule (the scheduler job). One failing rule does not stop the others."""
    store, metrics = app[STORE], app[METRICS]
    margin = app[SETTINGS].lock_margin_seconds * US_PER_S
    created = 0
    for channel_id, rule_id in await store.rule_ids():
        try:
            placed = await store.materialise_rule(
                channel_id, rule_id, now_us=app[CLOCK](), margin_us=margin
            )
        except NotFound:
            continue  # deleted meanwhile
        except Exception:
            log.exception("rule %s of channel %s failed to materialise", rule_id, channel_id)
            metrics.rule_runs.labels("error").inc()
            continue
        metrics.rule_runs.labels("ok").inc()
        metrics.rule_events.inc(len(placed))
        created += len(placed)
    return created


async def maintain(app: web.Application) -> None:
    """The scheduler job: top rules up, then compact plans."""
    await materialise_rules(app)
    await compact_plans(app)


async def compact_plans(app: web.Application) -> int:
    """Move every channel's plan start up to the retention limit (the scheduler job)."""
    store = app[STORE]
    retention = app[SETTINGS].plan_retention_hours * 3600 * US_PER_S
    moved = 0
    for channel_id in await store.compaction_candidates(
        now_us=app[CLOCK](), retention_us=retention
    ):
        try:
            if await store.compact_plan(channel_id, now_us=app[CLOCK](), retention_us=retention):
                moved += 1
        except NotFound:
            continue  # deleted meanwhile
        except Exception:
            log.exception("compacting the plan of channel %s failed", channel_id)
    app[METRICS].compactions.inc(moved)
    return moved


PLAN_PAGE_SIZE = 1000
"""Plans per page of the plan feed (an engine's cold start reads 10,000 channels in 10)."""
FEED_PAGE_CACHE = 16
"""Plan feed pages kept for the next engine asking (a page of 1,000 plans is about 3 MB)."""


def plan_feed_json(page: PlanPage) -> bytes:
    """A page of the plan feed as GET /plans answers it."""
    return (
        models.PlanFeed(
            revision=page.revision,
            plans=[PlanModel.from_core(p) for p in page.plans],
            deleted=page.deleted,
            next_after=page.next_after,
        )
        .model_dump_json()
        .encode()
    )


async def _feed_page(
    store: Store, since: int, until: int | None, after: str, limit: int
) -> tuple[bytes, int]:
    """A page of the plan feed as JSON, and the revision it answers for."""
    page = await store.plans_since(since, until, after, limit)
    return plan_feed_json(page), page.revision


async def get_plans(request: web.Request) -> web.Response:
    since = _query_int(request, "since", 0, 0, 10**12) or 0
    until = _query_int(request, "until", None, 0, 10**12)
    limit = _query_int(request, "limit", PLAN_PAGE_SIZE, 1, PLAN_PAGE_SIZE) or PLAN_PAGE_SIZE
    after = request.query.get("after")
    if after is None:
        after = ""
    elif not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", after):
        raise BadRequest("after", f"{after[:80]!r} is not a channel id")
    store = request.app[STORE]
    # Every engine replica (and worker process) cold-starting reads the same pages, at the
    # same moment: a page is kept while no plan has changed (the latest revision is part of
    # its key), and built once, the requests that come while it is built waiting for it.
    latest = await store.latest_revision()
    pages = request.app[FEED_PAGES]
    key = (since, until, after, limit, latest)
    body = pages.get(key)
    if body is None:
        builds = request.app[FEED_BUILDS]
        build = builds.get(key)
        if build is None:
            build = builds[key] = asyncio.ensure_future(
                _feed_page(store, since, until, after, limit)
            )
            build.add_done_callback(lambda _: builds.pop(key, None))
        # shielded: a client that goes away does not cancel the build the others wait for
        built, revision = await asyncio.shield(build)
        if revision == min(latest, until if until is not None else latest):
            pages[key] = built  # not when a write came in between: that page is newer
            while len(pages) > FEED_PAGE_CACHE:
                pages.popitem(last=False)
        body = built
    return web.Response(
        body=body, content_type="application/json", headers={"Cache-Control": "no-cache"}
    )


MAX_INDEX_KEYS = 100
"""Asset versions one GET /asset-indexes may ask for (the URL stays under 8 kB)."""


async def get_asset_indexes(request: web.Request) -> web.Response:
    keys: list[AssetKey] = []
    for raw in request.query.getall("key", []):
        matched = re.fullmatch(r"([a-z0-9][a-z0-9_-]{0,62})@([1-9][0-9]{0,5})", raw)
        if matched is None:
            raise BadRequest("key", f"{raw[:80]!r} is not <asset id>@<version>")
        keys.append((matched.group(1), int(matched.group(2))))
    if not 1 <= len(keys) <= MAX_INDEX_KEYS:
        raise BadRequest("key", f"give between 1 and {MAX_INDEX_KEYS} (got {len(keys)})")
    found = await request.app[STORE].asset_indexes(keys)
    missing = [f"{key[0]}@{key[1]}" for key in dict.fromkeys(keys) if key not in found]
    # The stored texts are the indexes' JSON already: spliced in, not parsed and re-written.
    body = (
        '{"assets":['
        + ",".join(found[key] for key in dict.fromkeys(keys) if key in found)
        + '],"missing":'
        + json.dumps(missing)
        + "}"
    )
    # Asset versions never change; the list of keys is the whole cache key.
    return web.Response(
        body=body.encode(),
        content_type="application/json",
        headers={"Cache-Control": "max-age=31536000, immutable" if not missing else "no-cache"},
    )


# --- assets -------------------------------------------------------------------------------
def _default_asset_id(title: str, url: str) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "asset"
    return f"{stem}-{hashlib.sha1(url.encode()).hexdigest()[:6]}"


def _fetcher(app: web.Application) -> Fetcher:
    settings = app[SETTINGS]
    return Fetcher(
        app[SESSION],
        settings.allowed_sources,
        settings.ingest_timeout_seconds,
        settings.ingest_max_playlist_bytes,
    )


async def _ingest(
    app: web.Application, asset_id: str, version: int, meta: dict[str, Any]
) -> models.Asset:
    metrics = app[METRICS]
    try:
        index = await ingest(_fetcher(app), asset_id, meta["url"], version, meta["title"])
    except ApiError:
        metrics.ingests.labels("refused").inc()
        raise
    metrics.ingests.labels("ok").inc()
    return await app[STORE].add_asset(index, meta, app[CLOCK]())


async def create_asset(request: web.Request) -> web.Response:
    body: models.AssetCreate = await _body(request, models.AssetCreate)
    asset_id = body.id or _default_asset_id(body.title, body.url)
    store = request.app[STORE]
    if await store.next_asset_version(asset_id) > 1:
        raise Conflict(
            "id", f"asset {asset_id!r} exists; POST /assets/{asset_id}/reingest makes a new version"
        )
    asset = await _ingest(request.app, asset_id, 1, body.model_dump())
    return _json(asset, 201, {"Location": f"/assets/{asset.id}"})


async def reingest_asset(request: web.Request) -> web.Response:
    asset_id = _slug(request)
    store = request.app[STORE]
    latest = await store.asset(asset_id)
    version = await store.next_asset_version(asset_id)
    meta = latest.model_dump(
        include={"url", "title", "description", "genre", "episode", "rating", "artwork_url", "tags"}
    )
    asset = await _ingest(request.app, asset_id, version, meta)
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


async def update_asset(request: web.Request) -> web.Response:
    body: models.AssetUpdate = await _body(request, models.AssetUpdate)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name in ("description", "genre", "episode", "rating", "tags"):
        if name in changes and changes[name] is None:
            raise Unprocessable(name, "may not be null")
    if "tags" in changes:
        changes["tags"] = sorted(set(changes["tags"]))
    store = request.app[STORE]
    if not changes:
        return _json(await store.asset(_slug(request)))
    return _json(await store.update_asset(_slug(request), changes))


async def delete_asset(request: web.Request) -> web.Response:
    await request.app[STORE].delete_asset(_slug(request))
    return web.Response(status=204)


# --- bulk ingest --------------------------------------------------------------------------
INGEST_CONCURRENCY = 4


def _job(row: Any) -> models.IngestJob:
    items = [models.IngestItem.model_validate(item) for item in row.items]
    return models.IngestJob(
        id=row.id,
        state=row.state,
        total=len(items),
        done=sum(item.state == "done" for item in items),
        failed=sum(item.state in ("failed", "interrupted") for item in items),
        items=items,
        created=format_date(row.created_us),
        updated=format_date(row.updated_us),
    )


async def _run_job(app: web.Application, job_id: str, items: list[dict[str, Any]]) -> None:
    """Ingest every item, a few at a time, saving progress after each step."""
    store, clock = app[STORE], app[CLOCK]
    gate = asyncio.Semaphore(INGEST_CONCURRENCY)
    saving = asyncio.Lock()

    async def save(state: str = "running") -> None:
        async with saving:
            await store.save_job(job_id, state, items, clock())

    async def one(item: dict[str, Any]) -> None:
        async with gate:
            item["state"] = "running"
            await save()
            try:
                if await store.next_asset_version(item["id"]) > 1:
                    raise Conflict("id", f"asset {item['id']!r} exists")
                asset = await _ingest(app, item["id"], 1, item["meta"])
                item.update(state="done", version=asset.version)
            except ApiError as error:
                item.update(state="failed", error=str(error))
            except Exception as error:  # one bad item must not stop the others
                log.exception("bulk ingest of %s failed", item["url"])
                item.update(state="failed", error=f"internal error: {error.__class__.__name__}")
            await save()

    await asyncio.gather(*(one(item) for item in items))
    await save("done")


async def create_ingest_job(request: web.Request) -> web.Response:
    body: models.IngestJobCreate = await _body(request, models.IngestJobCreate)
    items: list[dict[str, Any]] = []
    for i, asset in enumerate(body.items):
        asset_id = asset.id or _default_asset_id(asset.title, asset.url)
        if any(item["id"] == asset_id for item in items):
            raise Unprocessable(f"items.{i}.id", f"{asset_id!r} appears twice in the request")
        items.append(
            {
                "url": asset.url,
                "title": asset.title,
                "id": asset_id,
                "state": "queued",
                "version": None,
                "error": None,
                "meta": asset.model_dump(),
            }
        )
    job_id = f"job-{secrets.token_hex(8)}"
    store = request.app[STORE]
    await store.create_job(job_id, items, request.app[CLOCK]())
    task = asyncio.create_task(_run_job(request.app, job_id, items))
    request.app[JOBS].add(task)
    task.add_done_callback(request.app[JOBS].discard)
    return _json(_job(await store.job(job_id)), 202, {"Location": f"/ingest-jobs/{job_id}"})


async def get_ingest_job(request: web.Request) -> web.Response:
    return _json(_job(await request.app[STORE].job(_slug(request, "job_id"))))


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
    media: str = "application/json"
    """The response's content type when it has no model."""
    alternatives: tuple[str, ...] = ()
    """Other content types the response can have (e.g. text/csv on request)."""


VERSION_QUERY = Query(
    "version",
    {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    "asset version (default: the latest)",
)
LIMIT_QUERY = Query(
    "limit", {"type": "integer", "minimum": 0, "maximum": 5000}, "events listed (default 100)"
)
TIME_SCHEMA = {"type": "string", "maxLength": 40, "examples": ["2026-11-23T18:00:00Z"]}
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
    Operation(
        "PATCH",
        "/assets/{id}",
        update_asset,
        "Change an asset's guide metadata and tags (every version)",
        200,
        models.Asset,
        models.AssetUpdate,
        (400, 401, 404, 413, 422),
        tag="assets",
    ),
    Operation(
        "POST",
        "/channels/{id}/events",
        create_event,
        "Schedule an event (a program at a start time)",
        201,
        models.Event,
        models.EventCreateOne,
        (400, 401, 404, 409, 413, 422),
        tag="events",
    ),
    Operation(
        "POST",
        "/channels/{id}/event-batches",
        create_events,
        "Schedule many events at once (all or none)",
        201,
        models.EventList,
        models.EventBatch,
        (400, 401, 404, 409, 413, 422),
        tag="events",
    ),
    Operation(
        "GET",
        "/channels/{id}/events",
        list_events,
        "List the events that overlap a time range",
        200,
        models.EventList,
        errors=(400, 404),
        query=(
            Query("start", TIME_SCHEMA, "RFC 3339 or Unix ms (default: now)"),
            Query("end", TIME_SCHEMA, "RFC 3339 or Unix ms (default: no end)"),
            Query("limit", {"type": "integer", "minimum": 1, "maximum": 5000}, "at most"),
        ),
        tag="events",
    ),
    Operation(
        "GET",
        "/channels/{id}/events/{event_id}",
        get_event,
        "Get an event",
        200,
        models.Event,
        errors=(404,),
        tag="events",
    ),
    Operation(
        "PATCH",
        "/channels/{id}/events/{event_id}",
        update_event,
        "Change an event (only after the lock horizon)",
        200,
        models.Event,
        models.EventUpdate,
        (400, 401, 404, 409, 413, 422),
        tag="events",
    ),
    Operation(
        "DELETE",
        "/channels/{id}/events/{event_id}",
        delete_event,
        "Delete an event (only after the lock horizon)",
        204,
        errors=(401, 404, 409),
        tag="events",
    ),
    Operation(
        "GET",
        "/channels/{id}/schedule",
        get_schedule,
        "What airs when, in segment-exact times (Consuo-compatible fields)",
        200,
        models.Schedule,
        errors=(400, 404),
        query=(
            Query("date", {"type": "string", "maxLength": 10}, "YYYY-MM-DD, channel time zone"),
            Query("start", TIME_SCHEMA, "RFC 3339 or Unix ms (default: now)"),
            Query("end", TIME_SCHEMA, "RFC 3339 or Unix ms (default: start + 24 h)"),
        ),
        tag="schedule",
    ),
    Operation(
        "GET",
        "/channels/{id}/now",
        get_now,
        "Now and next, with progress (filler and slate included)",
        200,
        models.NowNext,
        errors=(404, 409),
        tag="guide",
    ),
    Operation(
        "GET",
        "/epg.xml",
        get_epg,
        "XMLTV guide from the current hour",
        200,
        errors=(400, 404),
        query=(
            Query(
                "channel",
                {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
                "a channel id (repeat for several; default: all)",
            ),
            Query("days", {"type": "integer", "minimum": 1, "maximum": 14}, "default 2"),
            Query(
                "filler",
                {"type": "string", "enum": ["true", "false", "1", "0"]},
                "list filler and slate as programmes",
            ),
        ),
        tag="guide",
        media="application/xml",
    ),
    Operation(
        "GET",
        "/channels.m3u",
        get_m3u,
        "M3U channel list for IPTV players (tvg-id matches the XMLTV guide)",
        200,
        errors=(400,),
        query=(
            Query(
                "base",
                {"type": "string", "maxLength": 500},
                "playback base URL (default: PLAYBACK_BASE_URL)",
            ),
        ),
        tag="guide",
        media="audio/x-mpegurl",
    ),
    Operation(
        "GET",
        "/channels/{id}/as-run",
        get_as_run,
        "As-run log of a local day: what aired, with slate seconds per hour",
        200,
        models.AsRun,
        errors=(400, 404),
        query=(
            Query("date", {"type": "string", "maxLength": 10}, "YYYY-MM-DD, channel time zone"),
            Query("format", {"type": "string", "enum": ["json", "csv"]}, "default json"),
        ),
        tag="guide",
        alternatives=("text/csv",),
    ),
    Operation(
        "POST",
        "/channels/{id}/rules",
        create_rule,
        "Add a rule that fills the schedule (loop, shuffle or time slots)",
        201,
        models.RuleRun,
        models.RuleCreate,
        (400, 401, 404, 409, 413, 422),
        query=(LIMIT_QUERY,),
        tag="rules",
    ),
    Operation(
        "GET",
        "/channels/{id}/rules",
        list_rules,
        "List rules",
        200,
        models.RuleList,
        errors=(404,),
        tag="rules",
    ),
    Operation(
        "POST",
        "/channels/{id}/rule-previews",
        preview_rule,
        "What a rule would create now, without creating it",
        200,
        models.RuleRun,
        models.RuleCreate,
        (400, 401, 404, 413, 422),
        query=(LIMIT_QUERY,),
        tag="rules",
    ),
    Operation(
        "GET",
        "/channels/{id}/rules/{rule_id}",
        get_rule,
        "Get a rule and how far it has filled",
        200,
        models.Rule,
        errors=(404,),
        tag="rules",
    ),
    Operation(
        "DELETE",
        "/channels/{id}/rules/{rule_id}",
        delete_rule,
        "Delete a rule and its events after the earliest editable instant",
        204,
        errors=(400, 401, 404),
        query=(
            Query(
                "keep_events",
                {"type": "string", "enum": ["true", "false", "1", "0"]},
                "keep the rule's events",
            ),
        ),
        tag="rules",
    ),
    Operation(
        "GET",
        "/plans",
        get_plans,
        "Plan feed for engines: channels whose plan changed after a revision",
        200,
        models.PlanFeed,
        errors=(400,),
        query=(
            Query(
                "since",
                {"type": "integer", "minimum": 0, "maximum": 10**12},
                "the revision of the previous answer (default 0: every plan)",
            ),
            Query(
                "until",
                {"type": "integer", "minimum": 0, "maximum": 10**12},
                "for the next page of one answer: the revision its first page returned",
            ),
            Query(
                "after",
                {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
                "for the next page: the `next_after` of the previous page",
            ),
            Query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 1000},
                "plans per page (default and most: 1000)",
            ),
        ),
        tag="plans",
    ),
    Operation(
        "GET",
        "/asset-indexes",
        get_asset_indexes,
        "Many immutable asset indexes in one request (an engine's cold start)",
        200,
        models.AssetIndexBatch,
        errors=(400,),
        query=(
            Query(
                "key",
                {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "pattern": "^[a-z0-9][a-z0-9_-]{0,62}@[1-9][0-9]{0,5}$",
                    },
                    "minItems": 1,
                    "maxItems": 100,
                },
                "asset versions as <asset id>@<version>, repeated (key=a@1&key=b@2), 1 to 100",
            ),
        ),
        tag="plans",
    ),
    Operation(
        "POST",
        "/ingest-jobs",
        create_ingest_job,
        "Ingest many HLS VODs in the background; poll the job for progress",
        202,
        models.IngestJob,
        models.IngestJobCreate,
        (400, 401, 413, 422),
        tag="assets",
    ),
    Operation(
        "GET",
        "/ingest-jobs/{job_id}",
        get_ingest_job,
        "Progress of a bulk ingest",
        200,
        models.IngestJob,
        errors=(404,),
        tag="assets",
    ),
    Operation("GET", "/health", health, "Liveness and database reachability", 200, models.Health),
    Operation("GET", "/metrics", metrics, "Prometheus metrics", 200, media="text/plain"),
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
        parameters: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
            }
            for name in re.findall(r"{([a-z_]+)}", op.path)
        ]
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
            responses[str(op.status)] = {
                "description": "ok",
                "content": {op.media: {"schema": {"type": "string"}}},
            }
        for media in op.alternatives:
            responses[str(op.status)]["content"][media] = {"schema": {"type": "string"}}
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
            "description": "Channels, assets, events, schedules and the plan feed of "
            "vchannel. Writes need "
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
        app[FEED_PAGES] = OrderedDict()
        app[FEED_BUILDS] = {}
        interrupted = await app[STORE].interrupt_jobs(app[CLOCK]())
        if interrupted:
            log.warning("%d bulk ingest job(s) were interrupted by a restart", interrupted)
        app[SESSION] = ingest_session(settings.allowed_sources)
        app[JOBS] = set()
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        in_flight: set[asyncio.Task[None]] = set()

        async def rules_job() -> None:
            # shielded: stopping the scheduler cancels this wrapper, never a transaction
            task = asyncio.create_task(maintain(app))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            await asyncio.shield(task)

        scheduler.add_job(
            rules_job,
            IntervalTrigger(seconds=settings.rules_interval_seconds, timezone=UTC),
            id="materialise-rules",
            next_run_time=datetime.now(UTC),  # once at start-up, then every interval
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.start()
        yield
        scheduler.shutdown(wait=False)
        await asyncio.gather(*in_flight, return_exceptions=True)
        tasks: set[asyncio.Task[None]] = app[JOBS]
        running = list(tasks)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await app[SESSION].close()
        await engine.dispose()

    app.cleanup_ctx.append(resources)
    for op in OPERATIONS:
        app.router.add_route(op.method, op.path, op.handler)
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs)
    app.router.add_static("/api/docs/static", SWAGGER_STATIC)
    return app
