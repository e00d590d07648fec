"""Plan sync (adapter): follow the schedule service's plan feed.

Every `interval` seconds the engine asks `CHANNELMGRAPI/plans?since=<revision>`. Changed plans
are compiled with their asset indexes (fetched once per asset version: they are immutable) and
swapped in all at once; deleted channels are dropped. Anything that goes wrong (the service
unreachable, a timeout, a garbage answer, a plan that does not compile) is logged and counted,
and the engine keeps serving the last good timelines: playlists are a pure function of (plan,
asset index, now), so a stale plan is still correct up to the schedule change it misses.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel, ValidationError

from engine.channels import Channels
from engine.errors import PlanError
from engine.model import AssetIndex, AssetKey, Plan, describe
from engine.plan_format import AssetIndexModel, PlanModel
from engine.timeline import Timeline, compile_timeline

log = logging.getLogger("vchannel.engine.sync")
MAX_FEED_BYTES = 64 * 1_048_576


class FeedModel(BaseModel):
    """The answer of GET /plans (only the fields the engine reads)."""

    revision: int
    plans: list[PlanModel]
    deleted: list[str]


class SyncError(Exception):
    """One poll failed; `reason` is the metrics label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class SyncMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.polls = Counter(
            "vchannel_engine_sync_polls", "Plan feed polls by result", ["result"], registry=registry
        )
        self.revision = Gauge(
            "vchannel_engine_sync_revision", "Plan feed revision applied", registry=registry
        )
        self.lag = Gauge(
            "vchannel_engine_sync_lag_seconds",
            "Seconds since the last successful poll",
            registry=registry,
        )


@dataclass
class PlanSync:
    """The engine's copy of the schedule service's plans. Only `poll` changes it."""

    base_url: str
    channels: Channels
    now_us: Callable[[], int]
    metrics: SyncMetrics
    timeout_s: float = 5.0
    revision: int = 0
    last_success_us: int | None = None
    last_error: str | None = None
    timelines: dict[str, Timeline] = field(default_factory=dict)
    assets: dict[AssetKey, AssetIndex] = field(default_factory=dict)

    async def _get(self, session: aiohttp.ClientSession, path: str) -> bytes:
        url = self.base_url.rstrip("/") + path
        try:
            async with session.get(
                url, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            ) as response:
                if response.status != 200:
                    raise SyncError("http", f"{url} answered HTTP {response.status}")
                body = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    body.extend(chunk)
                    if len(body) > MAX_FEED_BYTES:
                        break
        except TimeoutError:
            raise SyncError("timeout", f"{url} did not answer in {self.timeout_s} s") from None
        except aiohttp.ClientError as error:
            raise SyncError("unreachable", f"{url}: {error.__class__.__name__}") from None
        if len(body) > MAX_FEED_BYTES:
            raise SyncError("garbage", f"{url} is larger than {MAX_FEED_BYTES} bytes")
        return bytes(body)

    async def _asset(self, session: aiohttp.ClientSession, key: AssetKey) -> AssetIndex:
        cached = self.assets.get(key)
        if cached is not None:
            return cached
        body = await self._get(session, f"/assets/{key[0]}/index?version={key[1]}")
        try:
            asset = AssetIndexModel.model_validate(json.loads(body)).to_core()
        except (ValueError, ValidationError, PlanError) as error:
            raise SyncError("garbage", f"{describe(key)}: {error}") from None
        if asset.key != key:
            raise SyncError("garbage", f"asked for {describe(key)}, got {describe(asset.key)}")
        self.assets[key] = asset
        return asset

    async def poll(self, session: aiohttp.ClientSession) -> None:
        """One round: fetch what changed, compile it, swap it in. On SyncError nothing
        changes (the same revision is asked for again next time)."""
        body = await self._get(session, f"/plans?since={self.revision}")
        try:
            feed = FeedModel.model_validate_json(body)
        except ValidationError as error:
            raise SyncError("garbage", f"/plans: {error.errors()[0]['msg']}") from None
        compiled: dict[str, Timeline] = {}
        for model in feed.plans:
            try:
                plan: Plan = model.to_core()
                assets = {key: await self._asset(session, key) for key in plan.asset_keys()}
                compiled[plan.channel.id] = compile_timeline(plan, assets)
            except PlanError as error:  # keep serving the previous plan of this channel
                log.error("plan of channel %r does not compile: %s", model.channel.id, error)
                self.metrics.polls.labels("bad_plan").inc()
        timelines = {k: v for k, v in self.timelines.items() if k not in feed.deleted}
        timelines.update(compiled)
        self.timelines = timelines
        self.channels.replace(timelines)
        self._forget_unused_assets()
        self.revision = feed.revision
        self.last_success_us = self.now_us()
        self.last_error = None
        self.metrics.revision.set(feed.revision)

    def _forget_unused_assets(self) -> None:
        used = {key for t in self.timelines.values() for key in t.plan.asset_keys()}
        self.assets = {k: v for k, v in self.assets.items() if k in used}

    def lag_s(self) -> float | None:
        if self.last_success_us is None:
            return None
        return (self.now_us() - self.last_success_us) / 1e6

    async def run(self, interval_s: float) -> None:
        """Poll forever; never raises (cancel the task to stop it)."""
        async with aiohttp.ClientSession(headers={"User-Agent": "vchannel-engine"}) as session:
            while True:
                try:
                    await self.poll(session)
                    self.metrics.polls.labels("ok").inc()
                except SyncError as error:
                    if self.last_error != str(error):
                        log.warning("plan sync failed, serving the last good plans: %s", error)
                    self.last_error = str(error)
                    self.metrics.polls.labels(error.reason).inc()
                except Exception:  # a bug must not stop the loop either
                    log.exception("plan sync failed unexpectedly")
                    self.last_error = "internal error"
                    self.metrics.polls.labels("internal").inc()
                lag = self.lag_s()
                if lag is not None:
                    self.metrics.lag.set(lag)
                await asyncio.sleep(interval_s)
