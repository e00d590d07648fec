"""The schedule service (aiohttp): wiring and lifecycle only.

Requests go route (schedule_api/routes, HTTP only) -> service (orchestration) -> domain
(pure rules) and store (SQL only); docs/architecture.md follows each resource through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from common.clock import Clock, SystemClock
from common.instants import US_PER_S, UTC, from_us
from common.loop_stall import LoopStalls, watch_loop
from common.memory import collect_periodically, tune_garbage_collector
from schedule_api.http.keys import CLOCK, CONTEXT, FEED, JOBS, METRICS, SETTINGS
from schedule_api.http.middleware import middleware
from schedule_api.ingest import close_parse_pool, ingest_session
from schedule_api.metrics import Metrics
from schedule_api.routes import OPERATIONS
from schedule_api.routes.service import add_console, add_documentation
from schedule_api.service.assets import interrupt_jobs
from schedule_api.service.context import Context
from schedule_api.service.feed import FeedPages
from schedule_api.service.jobs import maintain
from schedule_api.service.plans import Timelines
from schedule_api.settings import ScheduleSettings
from schedule_api.store import Store
from schedule_api.store.db import create_engine, migrate

log = logging.getLogger("vchannel.schedule")


def _scheduler(ctx: Context, in_flight: set[asyncio.Task[None]]) -> AsyncIOScheduler:
    """The maintenance job (rules, then compaction) at start-up and every interval."""
    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)

    async def rules_job() -> None:
        # shielded: stopping the scheduler cancels this wrapper, never a transaction
        task = asyncio.create_task(maintain(ctx))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            return  # the scheduler stops: the service's cleanup waits for the task itself

    scheduler.add_job(
        rules_job,
        IntervalTrigger(seconds=ctx.settings.rules_interval_seconds, timezone=UTC),
        id="materialise-rules",
        next_run_time=from_us(SystemClock().now_us()),  # once at start-up, then every interval
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    return scheduler


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url, settings.sqlite_journal_mode)
    await migrate(engine)
    store = Store(engine)
    session = ingest_session(settings.allowed_sources)
    ctx = Context(store, Timelines(store), settings, app[METRICS], app[CLOCK], session)
    app[CONTEXT] = ctx
    app[FEED] = FeedPages(store, app[CLOCK], settings.plan_lookahead_hours * 3600 * US_PER_S)
    app[JOBS] = set()
    interrupted = await interrupt_jobs(store, app[CLOCK].now_us())
    if interrupted:
        log.warning("%d bulk ingest job(s) were interrupted by a restart", interrupted)
    in_flight: set[asyncio.Task[None]] = set()
    scheduler = _scheduler(ctx, in_flight)
    scheduler.start()
    yield
    scheduler.shutdown(wait=False)
    await asyncio.gather(*in_flight, return_exceptions=True)
    tasks: set[asyncio.Task[None]] = app[JOBS]
    running = list(tasks)
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    await app[FEED].close()
    await close_parse_pool()
    await session.close()
    await engine.dispose()


def create_app(
    settings: ScheduleSettings, *, clock: Clock | None = None, manage_memory: bool = False
) -> web.Application:
    """The schedule service. Migrations run when the app starts. manage_memory (for service
    processes, not for tests sharing one interpreter): common/memory.py's collector policy."""
    app = web.Application(middlewares=[middleware], client_max_size=settings.max_body_bytes)
    if manage_memory:
        tune_garbage_collector()
        app.cleanup_ctx.append(collect_periodically)
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[METRICS] = Metrics()
    stalls = LoopStalls(app[METRICS].registry, "vchannel_schedule")
    app.cleanup_ctx.append(watch_loop(stalls))
    app.cleanup_ctx.append(_resources)
    for op in OPERATIONS:
        app.router.add_route(op.method, op.path, op.handler)
    add_documentation(app, OPERATIONS)
    add_console(app)
    return app
