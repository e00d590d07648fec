"""The engine's HTTP service (aiohttp). Reads the clock once per request and nothing else.

Routes
- GET /live/master.m3u8?channel=ID and GET /channels/ID/master.m3u8: multivariant playlist.
- GET /live/<variant>.m3u8?channel=ID and GET /channels/ID/<variant>.m3u8: media playlist.
  Variants are addressed by path because CloudFront forwards only the `channel` query string.
- GET /health (load balancer), GET /metrics (Prometheus text format).

Channels come from plan files (PLANS_PATH) or from the schedule service's plan feed
(CHANNELMGRAPI, engine/sync.py).

Caching: every response's Cache-Control comes from engine/caching.py (the cache contract,
docs/caching.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from common.clock import Clock, SystemClock
from common.errors import VChannelError
from common.loop_stall import LoopStalls, watch_loop
from common.memory import collect_periodically, freeze_long_lived_objects
from common.problem import error_problem, http_problem, internal_problem
from engine import caching
from engine.channels import EMPTY_WEBVTT_PATH, Channels, MediaPlaylist, Rendered
from engine.errors import BadRequest, PlanError
from engine.model import NAME_PATTERN, US_PER_S
from engine.plan_format import load_plan_directory
from engine.settings import EngineSettings
from engine.subtitles import EMPTY_WEBVTT
from engine.sync import PlanSync, SyncMetrics
from engine.timeline import Timeline, compile_timeline

log = logging.getLogger("vchannel.engine")

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"

CHANNELS = web.AppKey("channels", Channels)
CLOCK = web.AppKey("clock", Clock)
SETTINGS = web.AppKey("settings", EngineSettings)
SYNC = web.AppKey("sync", PlanSync)


class Metrics:
    """Prometheus metrics of one engine process (its own registry, so apps do not clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vchannel_engine_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.render_cache = Counter(
            "vchannel_engine_render_cache",
            "Media playlist requests answered from the render cache (hit) or rendered (miss)",
            ["result"],
            registry=self.registry,
        )
        self.channels = Gauge(
            "vchannel_engine_channels", "Channels this engine serves", registry=self.registry
        )
        self.cache_bytes = Gauge(
            "vchannel_engine_render_cache_bytes",
            "Estimated memory held by the render cache (its budget is RENDER_CACHE_MB)",
            registry=self.registry,
        )
        self.cache_entries = Gauge(
            "vchannel_engine_render_cache_entries",
            "Windows (live, shifted or start-over) held by the render cache",
            registry=self.registry,
        )
        self.cache_evictions = Counter(
            "vchannel_engine_render_cache_evictions",
            "Windows dropped from the render cache to stay within its budget",
            registry=self.registry,
        )
        self._evictions_seen = 0
        # labels() validates and locks on every call; the request path reuses the children.
        self._requests: dict[tuple[str, int], Any] = {}
        self._hit = self.render_cache.labels("hit")
        self._miss = self.render_cache.labels("miss")

    def count_request(self, route: str, status: int) -> None:
        child = self._requests.get((route, status))
        if child is None:
            child = self._requests[(route, status)] = self.requests.labels(route, str(status))
        child.inc()

    def count_render(self, cache_hit: bool) -> None:
        (self._hit if cache_hit else self._miss).inc()

    def observe(self, channels: Channels) -> None:
        """Copy the channel and cache figures into the metrics (at scrape time)."""
        self.channels.set(len(channels))
        self.cache_bytes.set(channels.cache.bytes)
        self.cache_entries.set(len(channels.cache))
        self.cache_evictions.inc(channels.cache.evictions - self._evictions_seen)
        self._evictions_seen = channels.cache.evictions


METRICS = web.AppKey("metrics", Metrics)


def load_timelines(path: Path) -> dict[str, Timeline]:
    """Compile every plan under `path`; PlanError names the file, field and reason."""
    plans, assets = load_plan_directory(path)
    timelines: dict[str, Timeline] = {}
    for plan_path, plan in plans:
        try:
            timeline = compile_timeline(plan, assets)
        except PlanError as error:
            raise PlanError(
                str(plan_path), error.field, f"{error.where}: {error.reason}"
            ) from error
        if plan.channel.id in timelines:
            raise PlanError(str(plan_path), "channel.id", f"{plan.channel.id!r} is defined twice")
        timelines[plan.channel.id] = timeline
    return timelines


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map errors to problem+json (common/problem.py), add CORS, and count every request by
    route and status."""
    metrics = request.app[METRICS]
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    try:
        response = await handler(request)
    except VChannelError as error:
        response = error_problem(error, request.app[CLOCK].now_us())
    except web.HTTPException as error:
        if error.status < 400:
            raise
        response = http_problem(request, error, error.reason)
    except Exception:
        response = internal_problem(log, request, "engine")
    response.headers["Access-Control-Allow-Origin"] = request.app[SETTINGS].cors_origin
    metrics.count_request(route, response.status)
    return response


def _channel_query(request: web.Request) -> str:
    values = request.query.getall("channel", [])
    if not values:
        raise BadRequest("channel", "the query parameter is required, e.g. ?channel=my-channel")
    if len(values) > 1:
        raise BadRequest("channel", "give the query parameter once")
    return _checked_channel(values[0])


def _checked_channel(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise BadRequest("channel", f"{value[:80]!r} is not a channel id (a-z, 0-9, '-', '_')")
    return value


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names this representation (RFC 9110 13.1.2): `*` matches any
    representation that exists, a list matches when one of its tags is ours (a weak tag
    compares weakly)."""
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


def _playlist_response(
    request: web.Request, rendered: Rendered, cache_control: str
) -> web.Response:
    """The playlist, or 304 with the same headers when If-None-Match names it."""
    headers = {"Cache-Control": cache_control, "ETag": rendered.etag}
    if _matches(request.headers.get("If-None-Match"), rendered.etag):
        return web.Response(status=304, headers=headers)
    # body= bytes with content_type: text= would append '; charset=utf-8' to the type.
    return web.Response(body=rendered.body, content_type=PLAYLIST_TYPE, headers=headers)


def _path_integer(request: web.Request, name: str, field: str, high: int) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 15 or int(raw) > high:
        raise BadRequest(field, f"{raw[:20]!r} is not a whole number up to {high}")
    return int(raw)


def _playlist(request: web.Request, playlist: MediaPlaylist, now: int) -> web.Response:
    request.app[METRICS].count_render(playlist.cache_hit)
    if playlist.ended:
        cache_control = caching.IMMUTABLE
    else:
        cache_control = caching.live_playlist(
            playlist.valid_until_us - now, playlist.target_duration_s
        )
    return _playlist_response(request, playlist.rendered, cache_control)


async def _media(
    request: web.Request, channel_id: str, variant: str, shift_us: int = 0
) -> web.Response:
    now = request.app[CLOCK].now_us()
    playlist = request.app[CHANNELS].media_playlist(channel_id, variant, now, shift_us)
    return _playlist(request, playlist, now)


def _shift_us(request: web.Request) -> int:
    return _path_integer(request, "seconds", "seconds", 30 * 86_400) * US_PER_S


async def shift_master(request: web.Request) -> web.Response:
    """Time-shift: the channel as it aired `seconds` ago. The path carries the shift, so a
    CDN that keys on ?channel= alone caches each shift separately."""
    channel_id = _channel_query(request)
    request.app[CHANNELS].check_shift(channel_id, _shift_us(request))
    rendered = request.app[CHANNELS].multivariant_playlist(
        channel_id, "live", lambda name: f"{name}.m3u8?channel={channel_id}"
    )
    return _playlist_response(request, rendered, caching.multivariant_playlist())


async def shift_media(request: web.Request) -> web.Response:
    channel_id = _channel_query(request)
    return await _media(request, channel_id, request.match_info["variant"], _shift_us(request))


async def start_over(request: web.Request) -> web.Response:
    """Start-over: redirect to the program on air now, addressed by its start."""
    channel_id = _channel_query(request)
    start = request.app[CHANNELS].current_program_start_ms(channel_id, request.app[CLOCK].now_us())
    location = f"/live/program/{start}/master.m3u8?channel={channel_id}"
    return web.Response(
        status=302, headers={"Location": location, "Cache-Control": caching.redirect()}
    )


def _program_start_ms(request: web.Request) -> int:
    return _path_integer(request, "start", "start", 10**13)


async def program_master(request: web.Request) -> web.Response:
    channel_id = _channel_query(request)
    request.app[CHANNELS].program(
        channel_id, _program_start_ms(request), request.app[CLOCK].now_us()
    )
    rendered = request.app[CHANNELS].multivariant_playlist(
        channel_id, "live", lambda name: f"{name}.m3u8?channel={channel_id}"
    )
    return _playlist_response(request, rendered, caching.multivariant_playlist())


async def program_media(request: web.Request) -> web.Response:
    channel_id = _channel_query(request)
    now = request.app[CLOCK].now_us()
    playlist = request.app[CHANNELS].program_playlist(
        channel_id, request.match_info["variant"], _program_start_ms(request), now
    )
    return _playlist(request, playlist, now)


async def live_master(request: web.Request) -> web.Response:
    channel_id = _channel_query(request)
    rendered = request.app[CHANNELS].multivariant_playlist(
        channel_id, "live", lambda name: f"{name}.m3u8?channel={channel_id}"
    )
    return _playlist_response(request, rendered, caching.multivariant_playlist())


async def live_media(request: web.Request) -> web.Response:
    return await _media(request, _channel_query(request), request.match_info["variant"])


async def path_master(request: web.Request) -> web.Response:
    channel_id = _checked_channel(request.match_info["channel"])
    rendered = request.app[CHANNELS].multivariant_playlist(
        channel_id, "path", lambda name: f"{name}.m3u8"
    )
    return _playlist_response(request, rendered, caching.multivariant_playlist())


async def path_media(request: web.Request) -> web.Response:
    channel_id = _checked_channel(request.match_info["channel"])
    return await _media(request, channel_id, request.match_info["variant"])


async def empty_webvtt(request: web.Request) -> web.Response:
    """The subtitle segment for programs without subtitles and for the slate: a WebVTT file
    without cues, the same forever."""
    response = web.Response(body=EMPTY_WEBVTT, content_type="text/vtt")
    response.headers["Cache-Control"] = caching.IMMUTABLE
    return response


async def health(request: web.Request) -> web.Response:
    """200 while the engine can serve. Following a schedule service, it can once the first
    sync succeeded, and stays able when the service goes away (it serves the last plans)."""
    channels = request.app[CHANNELS]
    # `worker` tells apart the processes that share the port (--workers N)
    state: dict[str, object] = {"status": "ok", "channels": len(channels), "worker": os.getpid()}
    status = 200
    sync = request.app.get(SYNC)
    if sync is not None:
        lag = sync.lag_s()
        state["sync"] = {
            "state": sync.state(),
            "source": sync.base_url,
            "revision": sync.revision,
            "lag_seconds": None if lag is None else round(lag, 3),
            "last_error": sync.last_error,
        }
        if sync.last_success_us is None:
            state["status"], status = "waiting for the first plan sync", 503
    response = web.Response(
        status=status, body=json.dumps(state).encode(), content_type="application/json"
    )
    response.headers["Cache-Control"] = caching.NO_STORE
    return response


async def metrics(request: web.Request) -> web.Response:
    collected = request.app[METRICS]
    collected.observe(request.app[CHANNELS])
    response = web.Response(body=generate_latest(collected.registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = caching.NO_STORE
    return response


def create_app(
    settings: EngineSettings,
    *,
    timelines: dict[str, Timeline] | None = None,
    clock: Clock | None = None,
    manage_memory: bool = False,
) -> web.Application:
    """The engine application. Timelines default to the plans under settings.plans_path.
    manage_memory: freeze_long_lived_objects() after each plan sync that changed something
    and every FULL_COLLECTION_INTERVAL_S (for engine processes; not for tests that share
    one interpreter)."""
    if timelines is None:
        timelines = load_timelines(settings.plans_path) if settings.plans_path else {}
    app = web.Application(middlewares=[problem_middleware])
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock(settings.clock_start_us, settings.clock_speed)
    app[CHANNELS] = Channels(timelines, settings.render_cache_mb * 1_048_576)
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(watch_loop(LoopStalls(app[METRICS].registry, "vchannel_engine")))
    if settings.channel_manager_url:
        sync = PlanSync(
            settings.channel_manager_url,
            app[CHANNELS],
            SystemClock().now_us,
            SyncMetrics(app[METRICS].registry),
            after_change=freeze_long_lived_objects if manage_memory else None,
            key=settings.channel_manager_key,
            lock_margin_s=settings.lock_margin_s,
        )
        app[SYNC] = sync

        async def follow(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(sync.run(settings.sync_interval_ms / 1000))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(follow)
    if manage_memory:
        app.cleanup_ctx.append(collect_periodically)
    app.router.add_get(EMPTY_WEBVTT_PATH, empty_webvtt)
    app.router.add_get("/live/master.m3u8", live_master)
    app.router.add_get("/live/{variant}.m3u8", live_media)
    app.router.add_get("/live/shift/{seconds}/master.m3u8", shift_master)
    app.router.add_get("/live/shift/{seconds}/{variant}.m3u8", shift_media)
    app.router.add_get("/live/startover/master.m3u8", start_over)
    app.router.add_get("/live/program/{start}/master.m3u8", program_master)
    app.router.add_get("/live/program/{start}/{variant}.m3u8", program_media)
    app.router.add_get("/channels/{channel}/master.m3u8", path_master)
    app.router.add_get("/channels/{channel}/{variant}.m3u8", path_media)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app
