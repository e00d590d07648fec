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
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily
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


class _Counts:
    """Counters that the request path increments as plain integers (a prometheus_client
    Counter takes a lock per increment); exported as counter families when scraped."""

    def __init__(self, name: str, documentation: str, labels: list[str]) -> None:
        self.name, self.documentation, self.labels = name, documentation, labels
        self.values: dict[tuple[str | int, ...], int] = {}

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in self.values.items():
            family.add_metric([str(label) for label in labels], value)
        yield family


class Metrics:
    """Prometheus metrics of one engine process (its own registry, so apps do not clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = _Counts(
            "vchannel_engine_requests", "HTTP requests by route and status", ["route", "status"]
        )
        self._renders = _Counts(
            "vchannel_engine_render_cache",
            "Media playlist requests answered from the render cache (hit) or rendered (miss)",
            ["result"],
        )
        self._renders.values = {("hit",): 0, ("miss",): 0}
        self.registry.register(self._requests)
        self.registry.register(self._renders)
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

    def count_request(self, route: str, status: int) -> None:
        counts = self._requests.values
        key = (route, status)
        counts[key] = counts.get(key, 0) + 1

    def count_render(self, cache_hit: bool) -> None:
        self._renders.values[("hit",) if cache_hit else ("miss",)] += 1

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
SIMPLE_QUERY = re.compile(r"channel=([a-z0-9][a-z0-9_-]{0,62})")
"""The query a player sends: the channel alone, already a valid id (no parsing needed)."""


def _channel_query(request: web.Request) -> str:
    simple = SIMPLE_QUERY.fullmatch(request.query_string)
    if simple is not None:
        return simple.group(1)
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


def _path_integer(request: web.Request, name: str, field: str, high: int) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 15 or int(raw) > high:
        raise BadRequest(field, f"{raw[:20]!r} is not a whole number up to {high}")
    return int(raw)


def _shift_us(request: web.Request) -> int:
    return _path_integer(request, "seconds", "seconds", 30 * 86_400) * US_PER_S


def _program_start_ms(request: web.Request) -> int:
    return _path_integer(request, "start", "start", 10**13)


class Handlers:
    """The engine's routes, bound to its state (no per-request application lookups).

    Each route is wrapped by `answering`: errors become problem+json (common/problem.py),
    every answer allows cross-origin players, and requests are counted by route and status.
    The request path carries no middleware: this is the hot path (docs/benchmarks.md)."""

    def __init__(
        self, channels: Channels, clock: Clock, metrics: Metrics, settings: EngineSettings
    ) -> None:
        self.channels, self.clock, self.metrics = channels, clock, metrics
        self.cors = settings.cors_origin
        self.sync: PlanSync | None = None

    def answering(self, route: str, handler: Handler) -> Handler:
        metrics, cors = self.metrics, self.cors

        async def answer(request: web.Request) -> web.StreamResponse:
            try:
                response = await handler(request)
            except VChannelError as error:
                response = error_problem(error, self.clock.now_us())
            except web.HTTPException as error:
                if error.status < 400:
                    raise
                response = http_problem(request, error, error.reason)
            except Exception:
                response = internal_problem(log, request, "engine")
            if response.status >= 300:
                response.headers["Access-Control-Allow-Origin"] = cors
                if "Retry-After" in response.headers:  # a player page may say when to come back
                    response.headers["Access-Control-Expose-Headers"] = "Retry-After"
            metrics.count_request(route, response.status)
            return response

        return answer

    def _playlist_response(
        self, request: web.Request, rendered: Rendered, cache_control: str
    ) -> web.Response:
        """The playlist, or 304 with the same headers when If-None-Match names it."""
        headers = {
            "Cache-Control": cache_control,
            "ETag": rendered.etag,
            "Access-Control-Allow-Origin": self.cors,
        }
        if _matches(request.headers.get("If-None-Match"), rendered.etag):
            return web.Response(status=304, headers=headers)
        # body= bytes with content_type: text= would append '; charset=utf-8' to the type.
        return web.Response(body=rendered.body, content_type=PLAYLIST_TYPE, headers=headers)

    def _playlist(self, request: web.Request, playlist: MediaPlaylist, now: int) -> web.Response:
        self.metrics.count_render(playlist.cache_hit)
        if playlist.ended:
            cache_control = caching.IMMUTABLE
        else:
            cache_control = caching.live_playlist(
                playlist.valid_until_us - now, playlist.target_duration_s
            )
        return self._playlist_response(request, playlist.rendered, cache_control)

    def _media(
        self, request: web.Request, channel_id: str, variant: str, shift_us: int = 0
    ) -> web.Response:
        now = self.clock.now_us()
        playlist = self.channels.media_playlist(channel_id, variant, now, shift_us)
        return self._playlist(request, playlist, now)

    def _master(self, request: web.Request, channel_id: str) -> web.Response:
        rendered = self.channels.multivariant_playlist(
            channel_id, "live", lambda name: f"{name}.m3u8?channel={channel_id}"
        )
        return self._playlist_response(request, rendered, caching.multivariant_playlist())

    async def live_master(self, request: web.Request) -> web.Response:
        return self._master(request, _channel_query(request))

    async def live_media(self, request: web.Request) -> web.Response:
        return self._media(request, _channel_query(request), request.match_info["variant"])

    async def shift_master(self, request: web.Request) -> web.Response:
        """Time-shift: the channel as it aired `seconds` ago. The path carries the shift, so a
        CDN that keys on ?channel= alone caches each shift separately."""
        channel_id = _channel_query(request)
        self.channels.check_shift(channel_id, _shift_us(request))
        return self._master(request, channel_id)

    async def shift_media(self, request: web.Request) -> web.Response:
        channel_id = _channel_query(request)
        return self._media(request, channel_id, request.match_info["variant"], _shift_us(request))

    async def start_over(self, request: web.Request) -> web.Response:
        """Start-over: redirect to the program on air now, addressed by its start."""
        channel_id = _channel_query(request)
        start = self.channels.current_program_start_ms(channel_id, self.clock.now_us())
        location = f"/live/program/{start}/master.m3u8?channel={channel_id}"
        return web.Response(
            status=302,
            headers={
                "Location": location,
                "Cache-Control": caching.redirect(),
                "Access-Control-Allow-Origin": self.cors,
            },
        )

    async def program_master(self, request: web.Request) -> web.Response:
        channel_id = _channel_query(request)
        self.channels.program(channel_id, _program_start_ms(request), self.clock.now_us())
        return self._master(request, channel_id)

    async def program_media(self, request: web.Request) -> web.Response:
        channel_id = _channel_query(request)
        now = self.clock.now_us()
        playlist = self.channels.program_playlist(
            channel_id, request.match_info["variant"], _program_start_ms(request), now
        )
        return self._playlist(request, playlist, now)

    async def path_master(self, request: web.Request) -> web.Response:
        channel_id = _checked_channel(request.match_info["channel"])
        rendered = self.channels.multivariant_playlist(
            channel_id, "path", lambda name: f"{name}.m3u8"
        )
        return self._playlist_response(request, rendered, caching.multivariant_playlist())

    async def path_media(self, request: web.Request) -> web.Response:
        channel_id = _checked_channel(request.match_info["channel"])
        return self._media(request, channel_id, request.match_info["variant"])

    async def empty_webvtt(self, request: web.Request) -> web.Response:
        """The subtitle segment for programs without subtitles and for the slate: a WebVTT
        file without cues, the same forever."""
        return web.Response(
            body=EMPTY_WEBVTT,
            content_type="text/vtt",
            headers={"Cache-Control": caching.IMMUTABLE, "Access-Control-Allow-Origin": self.cors},
        )

    async def health(self, request: web.Request) -> web.Response:
        """200 while the engine can serve. Following a schedule service, it can once the first
        sync succeeded, and stays able when the service goes away (it serves the last plans)."""
        # `worker` tells apart the processes that share the port (--workers N)
        state: dict[str, object] = {
            "status": "ok",
            "channels": len(self.channels),
            "worker": os.getpid(),
        }
        status = 200
        sync = self.sync
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
        return web.Response(
            status=status,
            body=json.dumps(state).encode(),
            content_type="application/json",
            headers={"Cache-Control": caching.NO_STORE, "Access-Control-Allow-Origin": self.cors},
        )

    async def metrics_text(self, request: web.Request) -> web.Response:
        self.metrics.observe(self.channels)
        response = web.Response(body=generate_latest(self.metrics.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        response.headers["Cache-Control"] = caching.NO_STORE
        response.headers["Access-Control-Allow-Origin"] = self.cors
        return response

    async def unmatched(self, request: web.Request) -> web.Response:
        """No route: 405 with Allow when the path exists for other methods, else 404."""
        allowed: set[str] = set()
        for resource in request.app.router.resources():
            if resource.canonical == CATCH_ALL:
                continue
            match, methods = await resource.resolve(request)
            if match is None:
                allowed |= methods
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        raise web.HTTPNotFound()


CATCH_ALL = r"/{tail:[\s\S]*}"
"""Every path (newlines too): requests no route takes get a problem answer."""


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
    app = web.Application()
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock(settings.clock_start_us, settings.clock_speed)
    app[CHANNELS] = Channels(timelines, settings.render_cache_mb * 1_048_576)
    app[METRICS] = Metrics()
    handlers = Handlers(app[CHANNELS], app[CLOCK], app[METRICS], settings)
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
        app[SYNC] = handlers.sync = sync

        async def follow(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(sync.run(settings.sync_interval_ms / 1000))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(follow)
    if manage_memory:
        app.cleanup_ctx.append(collect_periodically)
    routes: list[tuple[str, str, Handler]] = [
        ("GET", EMPTY_WEBVTT_PATH, handlers.empty_webvtt),
        ("GET", "/live/master.m3u8", handlers.live_master),
        ("GET", "/live/{variant}.m3u8", handlers.live_media),
        ("GET", "/live/shift/{seconds}/master.m3u8", handlers.shift_master),
        ("GET", "/live/shift/{seconds}/{variant}.m3u8", handlers.shift_media),
        ("GET", "/live/startover/master.m3u8", handlers.start_over),
        ("GET", "/live/program/{start}/master.m3u8", handlers.program_master),
        ("GET", "/live/program/{start}/{variant}.m3u8", handlers.program_media),
        ("GET", "/channels/{channel}/master.m3u8", handlers.path_master),
        ("GET", "/channels/{channel}/{variant}.m3u8", handlers.path_media),
        ("GET", "/health", handlers.health),
        ("GET", "/metrics", handlers.metrics_text),
        ("*", CATCH_ALL, handlers.unmatched),
    ]
    for method, path, handler in routes:
        route = "unmatched" if path == CATCH_ALL else path
        if method == "GET":  # and HEAD
            app.router.add_get(path, handlers.answering(route, handler))
        else:
            app.router.add_route(method, path, handlers.answering(route, handler))
    return app
