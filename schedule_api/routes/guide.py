"""What airs: the segment-exact schedule, now/next, XMLTV, the M3U channel list, as-run."""

from __future__ import annotations

import re

from aiohttp import web

from common.errors import Conflict, Malformed, NotFound
from common.instants import US_PER_S, format_date
from schedule_api import models, views
from schedule_api.domain import guide
from schedule_api.domain.channels import playback_path, xmltv_id
from schedule_api.http.keys import CONTEXT, SETTINGS
from schedule_api.http.openapi import TIME_SCHEMA, Operation, Query
from schedule_api.http.params import (
    day_range,
    json_response,
    query_flag,
    query_int,
    query_time,
    slug,
)
from schedule_api.service import channels
from schedule_api.service.guide import program_info

NOW_NEXT_REACH_US = 48 * 3600 * US_PER_S
"""How far ahead now/next looks for the next program."""
MAX_SCHEDULE_US = 31 * 24 * 3600 * US_PER_S
"""The longest range one schedule read covers."""


def _schedule_range(request: web.Request, time_zone: str) -> tuple[int, int]:
    if "date" in request.query:
        if "start" in request.query or "end" in request.query:
            raise Malformed("date", "give date, or start and end, not both")
        return day_range(request.query["date"], time_zone)
    start = query_time(request, "start") or request.app[CONTEXT].clock.now_us()
    end = query_time(request, "end") or start + 24 * 3600 * US_PER_S
    if end <= start:
        raise Malformed("end", "must be after start")
    if end - start > MAX_SCHEDULE_US:
        raise Malformed("end", "at most 31 days after start")
    return start, end


async def get_schedule(request: web.Request) -> web.Response:
    """What airs, with the real segment-snapped times of the timeline engines play."""
    ctx = request.app[CONTEXT]
    channel_id = slug(request)
    channel = await channels.get(ctx.store, channel_id)
    start, end = _schedule_range(request, channel.time_zone)
    timeline = await ctx.timelines.of(channel_id)
    if start < timeline.start_us:  # before the compacted plan: read the whole history
        timeline = await ctx.timelines.of(channel_id, full=True)
    programs = guide.programmes(timeline, start, end, include_filler=False)
    items = [views.schedule_entry(channel_id, program) for program in programs]
    schedule = models.Schedule(
        channel_id=channel_id, start=format_date(start), end=format_date(end), items=items
    )
    return json_response(schedule)


async def get_now(request: web.Request) -> web.Response:
    """What is on now, how far in, and what comes next (filler and slate included)."""
    ctx = request.app[CONTEXT]
    channel_id = slug(request)
    timeline = await ctx.timelines.of(channel_id)
    now = ctx.clock.now_us()
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
    answer = models.NowNext(
        channel_id=channel_id,
        now=format_date(now),
        current=views.airing(current),
        progress_seconds=(now - current.start_us) / US_PER_S,
        progress=progress,
        next=None if following is None else views.airing(following),
    )
    return json_response(answer, headers={"Cache-Control": "max-age=1"})


async def get_epg(request: web.Request) -> web.Response:
    """XMLTV for all channels or those named by `channel`, from the current hour for `days`."""
    ctx = request.app[CONTEXT]
    days = query_int(request, "days", 2, 1, 14)
    include_filler = query_flag(request, "filler")
    wanted = request.query.getall("channel", [])
    every = await channels.every(ctx.store)
    known = {c.id for c in every}
    for i, channel_id in enumerate(wanted):
        if channel_id not in known:
            raise NotFound(f"channel.{i}", f"channel {channel_id!r} does not exist")
    listed = [c for c in every if c.id in wanted] if wanted else every
    now = ctx.clock.now_us()
    start = now - now % (3600 * US_PER_S)
    end = start + days * 86_400 * US_PER_S
    found = []
    for channel in listed:
        timeline = await ctx.timelines.of(channel.id)
        entries = guide.programmes(timeline, start, end, include_filler)
        found.append(
            guide.GuideChannel(xmltv_id(channel.id), channel.name, channel.artwork_url, entries)
        )
    keys = {e.asset.key for c in found for e in c.entries}
    document = guide.xmltv_document(found, await program_info(ctx.store, keys))
    return web.Response(
        body=document, content_type="application/xml", headers={"Cache-Control": "max-age=60"}
    )


async def get_m3u(request: web.Request) -> web.Response:
    """Extended M3U of every channel, pointing at the engine's public playback URL."""
    base = request.query.get("base", request.app[SETTINGS].playback_base_url).rstrip("/")
    if not re.fullmatch(r"https?://[^\s/\"]+[^\s\"]*", base) or len(base) > 500:
        raise Malformed(
            "base", "must be an http(s) URL, e.g. https://d111111abcdef8.cloudfront.net"
        )
    entries = [
        guide.PlaylistEntry(
            xmltv_id(c.id), c.name, c.artwork_url, c.group_title, f"{base}{playback_path(c.id)}"
        )
        for c in await channels.every(request.app[CONTEXT].store)
    ]
    return web.Response(
        body=guide.m3u_playlist(entries, f"{request.url.origin()}/epg.xml"),
        content_type="audio/x-mpegurl",
        headers={"Cache-Control": "max-age=60"},
    )


async def get_as_run(request: web.Request) -> web.Response:
    """What aired on a local day (up to now): JSON, or CSV with format=csv."""
    ctx = request.app[CONTEXT]
    channel_id = slug(request)
    channel = await channels.get(ctx.store, channel_id)
    if "date" not in request.query:
        raise Malformed("date", "is required (YYYY-MM-DD, in the channel's time zone)")
    kind = request.query.get("format", "json")
    if kind not in ("json", "csv"):
        raise Malformed("format", "must be json or csv")
    day = request.query["date"]
    start, end = day_range(day, channel.time_zone)
    timeline = await ctx.timelines.of(channel_id, full=True)
    until = min(end, ctx.clock.now_us())
    aired = guide.airings(timeline, start, until) if until > start else []
    items = [views.as_run_entry(a, *guide.clipped(a, start, until)) for a in aired]
    if kind == "csv":
        filename = f"{channel_id}-{day}-as-run.csv"
        return web.Response(
            body=guide.as_run_csv(item.model_dump() for item in items),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    hours = guide.slate_per_hour(aired, start, until) if until > start else []
    as_run = models.AsRun(
        channel_id=channel_id,
        date=day,
        start=format_date(start),
        end=format_date(end),
        items=items,
        slate_seconds=sum(item.slate_seconds for item in items),
        hours=[
            models.AsRunHour(start=format_date(h), slate_seconds=us / US_PER_S) for h, us in hours
        ],
        max_slate_seconds_per_hour=max((us for _h, us in hours), default=0) / US_PER_S,
    )
    return json_response(as_run)


OPERATIONS = (
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
)
