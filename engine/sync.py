"""Plan sync (adapter): follow the schedule service's plan feed.

Every `interval` seconds the engine asks `CHANNELMGRAPI/plans?since=<revision>&held_ms=<horizon>`
(following its pages; each page is applied while the next one is fetched). Whole plans are
compiled; changes of plans held ("from T on the blocks are these", a moved checkpoint) are
applied from T on (engine/changes.py); a change that cannot be applied brings the channel's
whole plan in the same poll. Asset indexes are fetched once per asset version (they are
immutable), 20 per request from `/asset-indexes`. A long plan comes in pieces, the first as the
plan or change cut short and each next one as a change appending to it, possibly over several
pages; they are applied in order like any change. What a poll brought is swapped in channel by
channel, in slices between turns of the event loop, and its revision is reported once all of it
is in; deleted channels are dropped. Anything that goes wrong (the service unreachable, a
timeout, a garbage answer, a plan that does not compile) is logged and counted, and the
engine keeps serving the last good timelines: playlists are a pure function of (plan, asset
index, now), so a stale plan is still correct up to the schedule change it misses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import ValidationError

from engine.changes import PlanChange, Unbridgeable, apply_change
from engine.channels import Channels
from engine.errors import PlanError
from engine.feed_format import AssetIndexBatch, PlanChangeModel, PlanFeed
from engine.model import AssetIndex, AssetKey, Block, Plan, describe
from engine.plan_format import PlanModel
from engine.timeline import Timeline, compile_timeline

log = logging.getLogger("vchannel.engine.sync")
MAX_FEED_BYTES = 64 * 1_048_576
"""The largest answer taken (a bigger one is garbage): the schedule service sends long plans
in pieces, so its pages stay far below this however long a plan grows."""
MAX_FEED_PAGES = 1000
SLICE_S = 0.02
"""Compilation runs in slices of about this long between two turns of the event loop."""
WHOLE_BATCH = 100
"""Whole plans asked for per request when changes cannot be applied (the service's limit)."""
MAX_REVISION = 10**12
"""The highest plan revision the feed may name (the schedule service's `since` limit)."""
ASSET_BATCH = 20
"""Asset versions asked for per GET /asset-indexes (the service allows 100). A 2-hour,
3-rendition index parses through about 400 kB of short-lived Python objects: 20 at a time
keeps that peak, which the process keeps as resident memory, near 8 MB."""


SYNC_STATES = ("ok", "lagging", "failing")
"""ok: the last poll succeeded and is recent; lagging: no poll has failed but the last
success is older than half the lock margin; failing: the last poll failed."""


class _Pause:
    """Gives the event loop a turn after every SLICE_S of work (monotonic timer)."""

    def __init__(self) -> None:
        self._since = time.perf_counter()

    def due(self) -> bool:
        """Whether SLICE_S has passed since the last turn (the caller gives one now)."""
        if time.perf_counter() - self._since < SLICE_S:
            return False
        self._since = time.perf_counter()
        return True

    async def maybe(self) -> None:
        if self.due():
            await asyncio.sleep(0)


def _heads(change: PlanChange) -> tuple[Block, ...]:
    return () if change.head is None else (change.head,)


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
        self.state = Gauge(
            "vchannel_engine_sync_state",
            "1 for the plan sync's state (ok, lagging or failing), 0 for the others",
            ["state"],
            registry=registry,
        )

    def set_state(self, state: str) -> None:
        for name in SYNC_STATES:
            self.state.labels(name).set(1 if name == state else 0)


@dataclass
class PlanSync:
    """The engine's copy of the schedule service's plans. Only `poll` changes it."""

    base_url: str
    channels: Channels
    now_us: Callable[[], int]
    metrics: SyncMetrics
    timeout_s: float = 5.0
    page_size: int = 1000
    """Plans asked for per page of the feed (the service's maximum)."""
    revision: int = 0
    last_success_us: int | None = None
    last_error: str | None = None
    timelines: dict[str, Timeline] = field(default_factory=dict)
    assets: dict[AssetKey, AssetIndex] = field(default_factory=dict)
    _users: dict[AssetKey, int] = field(default_factory=dict)
    """How many timelines use each asset version (unused ones are dropped)."""
    after_change: Callable[[], None] | None = None
    """Called after a poll swapped in new or fewer timelines."""
    key: str | None = None
    """The schedule service's API key (CHANNELMGRAPI_KEY), sent as a bearer token."""
    lock_margin_s: float = 10.0
    """The schedule service's lock margin (LOCK_MARGIN_SECONDS): edits closer to now than this
    are refused, so a lag beyond it means accepted edits may miss their airing."""
    horizon_ms: int = 0
    """The feed's horizon held: every block before it (Unix ms; 0: nothing yet)."""
    _alerted: bool = False
    _diverged: set[str] = field(default_factory=set)
    """Channels whose timeline is not their plan (a change that did not compile): their next
    change is asked for whole."""

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

    async def _fetch_assets(self, session: aiohttp.ClientSession, keys: set[AssetKey]) -> None:
        """Fetch the indexes of asset versions not held yet, ASSET_BATCH per request (they
        are immutable: each version is fetched once). A version the service does not have is
        left out: the plans that use it do not compile and are counted as bad plans."""
        wanted = sorted(keys - self.assets.keys())
        for start in range(0, len(wanted), ASSET_BATCH):
            batch = wanted[start : start + ASSET_BATCH]
            query = urlencode([("key", f"{asset_id}@{version}") for asset_id, version in batch])
            body = await self._get(session, f"/asset-indexes?{query}")
            try:
                answer = AssetIndexBatch.model_validate_json(body)
                assets = [model.to_core() for model in answer.assets]
            except (ValidationError, PlanError) as error:
                raise SyncError("garbage", f"/asset-indexes: {error}") from None
            asked = set(batch)
            for asset in assets:
                if asset.key not in asked:
                    raise SyncError(
                        "garbage", f"got {describe(asset.key)}, which was not asked for"
                    )
                self.assets[asset.key] = asset
            for missing in answer.missing:
                log.error("the schedule service has no asset %s", missing)

    def _page(self, body: bytes) -> PlanFeed:
        try:
            return PlanFeed.model_validate_json(body)
        except ValidationError as error:
            raise SyncError("garbage", f"/plans: {error.errors()[0]['msg']}") from None

    def _bad_plan(self, channel_id: str, message: str, error: Exception) -> None:
        log.error("plan of channel %r %s: %s", channel_id, message, error)
        self.metrics.polls.labels("bad_plan").inc()

    async def _compile(
        self, session: aiohttp.ClientSession, models: list[PlanModel], into: dict[str, Timeline]
    ) -> None:
        """Compile whole plans into `into`, fetching the asset indexes they need first. A plan
        that is not valid or does not compile is logged and counted (its channel keeps its
        previous timeline, and its next change is asked for whole)."""
        pause = _Pause()
        plans: list[Plan] = []
        for model in models:
            await pause.maybe()
            try:
                plans.append(model.to_core())
            except PlanError as error:
                self._bad_plan(model.channel.id, "is not valid", error)
                self._diverged.add(model.channel.id)
        await self._fetch_assets(session, {key for plan in plans for key in plan.asset_keys()})
        for plan in plans:
            await pause.maybe()
            try:
                into[plan.channel.id] = compile_timeline(plan, self.assets)
                self._diverged.discard(plan.channel.id)
            except PlanError as error:
                self._bad_plan(plan.channel.id, "does not compile", error)
                self._diverged.add(plan.channel.id)

    async def _apply(
        self,
        session: aiohttp.ClientSession,
        models: list[PlanChangeModel],
        into: dict[str, Timeline],
        whole: set[str],
    ) -> None:
        """Apply changes to the timelines held (or compiled earlier in this poll) into `into`;
        a change that cannot be applied there puts its channel in `whole` (asked for whole)."""
        pause = _Pause()
        changes: list[PlanChange] = []
        for model in models:
            await pause.maybe()
            try:
                changes.append(model.to_core())
            except PlanError as error:
                self._bad_plan(model.channel, "changed into garbage", error)
                whole.add(model.channel)
        keys = {b.clip.key for change in changes for b in (*change.blocks, *_heads(change))}
        await self._fetch_assets(session, keys)
        for change in changes:
            await pause.maybe()
            channel_id = change.channel_id
            held = into.get(channel_id) or self.timelines.get(channel_id)
            if held is None or channel_id in self._diverged:
                whole.add(channel_id)
                continue
            try:
                into[channel_id] = apply_change(held, change, self.assets)
            except Unbridgeable as error:
                log.info("asking for the whole plan: %s", error)
                whole.add(channel_id)
            except PlanError as error:
                self._bad_plan(channel_id, "does not compile after a change", error)
                self._diverged.add(channel_id)

    async def _fetch_whole(
        self,
        session: aiohttp.ClientSession,
        ids: set[str],
        horizon_ms: int,
        into: dict[str, Timeline],
        deleted: list[str],
    ) -> None:
        """The whole plans of these channels, cut at the poll's horizon, WHOLE_BATCH channels
        per answer, each answer's pages followed (a long plan comes in pieces). A piece that
        cannot be applied leaves its channel as it was (asked for whole again next poll)."""
        wanted = sorted(ids)
        pages = 0
        for start in range(0, len(wanted), WHOLE_BATCH):
            asked = [("channel", i) for i in wanted[start : start + WHOLE_BATCH]]
            asked.append(("horizon_ms", str(horizon_ms)))
            following: str | None = ""
            while following is not None:
                pages += 1
                if pages > MAX_FEED_PAGES:
                    raise SyncError("garbage", f"/plans: more than {MAX_FEED_PAGES} pages")
                after = [("after", following)] if following else []
                page = self._page(await self._get(session, f"/plans?{urlencode(asked + after)}"))
                await self._compile(session, page.plans, into)
                unapplied: set[str] = set()
                await self._apply(session, page.changes, into, unapplied)
                for channel_id in unapplied:
                    log.error("plan of channel %r came in pieces that do not fit", channel_id)
                    self.metrics.polls.labels("bad_plan").inc()
                    self._diverged.add(channel_id)
                    into.pop(channel_id, None)
                deleted.extend(page.deleted)
                following = page.next_after

    async def poll(self, session: aiohttp.ClientSession) -> None:
        """One round: fetch what changed (every page of the feed after self.revision, and
        the blocks the horizon moved over), apply it, swap it all in at once. Each page is
        applied while the next one is fetched, so a cold start keeps the schedule service
        and the engine busy together. On SyncError nothing changes (the same revision is
        asked for again next time)."""
        base = f"/plans?since={self.revision}&held_ms={self.horizon_ms}&limit={self.page_size}"
        fetching: asyncio.Future[bytes] | None = asyncio.ensure_future(self._get(session, base))
        revision: int | None = None
        horizon_ms = self.horizon_ms
        compiled: dict[str, Timeline] = {}
        whole: set[str] = set()
        deleted: list[str] = []
        pages = 0
        try:
            while fetching is not None:
                page = self._page(await fetching)
                fetching = None
                pages += 1
                if revision is None:
                    revision = self._checked_revision(page.revision)
                    horizon_ms = page.horizon_ms
                if page.next_after is not None:
                    if pages > MAX_FEED_PAGES:
                        raise SyncError("garbage", f"/plans: more than {MAX_FEED_PAGES} pages")
                    following = (
                        f"{base}&until={revision}&horizon_ms={horizon_ms}"
                        f"&after={quote(page.next_after)}"
                    )
                    fetching = asyncio.ensure_future(self._get(session, following))
                await self._compile(session, page.plans, compiled)
                await self._apply(session, page.changes, compiled, whole)
                deleted.extend(page.deleted)
        finally:
            if fetching is not None:
                fetching.cancel()
                with contextlib.suppress(asyncio.CancelledError, SyncError):
                    await fetching
        assert revision is not None
        if whole:
            await self._fetch_whole(session, whole, horizon_ms, compiled, deleted)
        for channel_id in deleted:  # deleted while its plan was being sent in pieces
            compiled.pop(channel_id, None)
        await self._swap(compiled, deleted)
        self.revision = revision
        self.horizon_ms = horizon_ms
        self.last_success_us = self.now_us()
        self.last_error = None
        self.metrics.revision.set(revision)

    async def _swap(self, compiled: dict[str, Timeline], deleted: list[str]) -> None:
        """Serve the new timelines and drop the deleted channels. Only what changed is
        touched, and in slices (a cold start or a service back from an outage brings every
        channel, too many to swap between two turns of the event loop); each channel changes
        in one step, and the poll's revision is reported only once all of them have."""
        removed = [channel_id for channel_id in deleted if channel_id in self.timelines]
        if not compiled and not removed:
            return
        pause = _Pause()
        pending: dict[str, Timeline] = {}
        for channel_id, timeline in compiled.items():
            self._hold(timeline, self.timelines.get(channel_id))
            pending[channel_id] = timeline
            if pause.due():
                self._serve(pending)
                pending = {}
                await asyncio.sleep(0)
        self._serve(pending)
        for channel_id in removed:
            self._hold(None, self.timelines.pop(channel_id))
            self._diverged.discard(channel_id)
        self.channels.update({}, removed)
        for key in [key for key in self.assets if not self._users.get(key)]:
            del self.assets[key]  # fetched for a plan that did not compile, or released
        if self.after_change is not None:
            self.after_change()

    def _serve(self, timelines: dict[str, Timeline]) -> None:
        self.timelines.update(timelines)
        self.channels.update(timelines)

    def _checked_revision(self, revision: int) -> int:
        """A feed revision the engine can take: within [0, MAX_REVISION] and never behind the
        one it holds (revisions only grow; going back means a wrong or replaced service)."""
        if not 0 <= revision <= MAX_REVISION:
            raise SyncError("garbage", f"/plans: revision {revision} is out of range")
        if revision < self.revision:
            raise SyncError(
                "garbage", f"/plans: revision {revision} is behind the {self.revision} held"
            )
        return revision

    def _hold(self, timeline: Timeline | None, old: Timeline | None) -> None:
        """Count the asset versions `timeline` uses instead of those `old` used."""
        for key in () if timeline is None else timeline.uses:
            self._users[key] = self._users.get(key, 0) + 1
        for key in () if old is None else old.uses:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]

    def state(self) -> str:
        """ok, lagging or failing (SYNC_STATES)."""
        if self.last_error is not None:
            return "failing"
        lag = self.lag_s()
        if lag is None or lag > self.lock_margin_s / 2:
            return "lagging"
        return "ok"

    def _report(self) -> None:
        """Metrics after a poll, and one loud log line when the lag passes the lock margin
        (and one when it is back)."""
        lag = self.lag_s()
        if lag is not None:
            self.metrics.lag.set(lag)
        self.metrics.set_state(self.state())
        behind = lag is None or lag > self.lock_margin_s
        if behind and not self._alerted:
            log.error(
                "plan sync is %s s behind, more than the lock margin of %s s: schedule edits "
                "accepted meanwhile may not reach viewers in time (%s)",
                "unknown" if lag is None else f"{lag:.1f}",
                self.lock_margin_s,
                self.last_error,
            )
            self._alerted = True
        elif not behind and self._alerted:
            log.warning("plan sync caught up (lag %.1f s)", lag)
            self._alerted = False

    def lag_s(self) -> float | None:
        if self.last_success_us is None:
            return None
        return (self.now_us() - self.last_success_us) / 1e6

    async def run(self, interval_s: float) -> None:
        """Poll forever; never raises (cancel the task to stop it)."""
        headers = {"User-Agent": "vchannel-engine"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        async with aiohttp.ClientSession(headers=headers) as session:
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
                self._report()
                await asyncio.sleep(interval_s)
