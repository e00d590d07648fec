"""Storage of channels, asset versions, events and the plan change log: SQLAlchemy Core, one
code path for both databases.

Every write is one transaction; a unique-key violation becomes a 409 that says what collided.
Writes that change a plan are serialised (an in-process lock, plus a transaction-scoped
advisory lock on PostgreSQL so that several service processes agree) and append a row to
`changes`, so plan revisions are committed in increasing order and a poller that asks for
changes after revision R never misses one. `now_us` is passed in (microseconds since the
epoch): the store never reads a clock.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from engine.compaction import compaction_point
from engine.errors import PlanError
from engine.model import (
    US_PER_S,
    AssetIndex,
    AssetKey,
    Block,
    Break,
    Checkpoint,
    Plan,
    describe,
    rounded_seconds,
)
from engine.model import Channel as CoreChannel
from engine.model import Clip as CoreClip
from engine.plan_format import AdMarkersModel, AssetIndexModel, ProfileEntryModel, TrackSpecModel
from engine.profile import map_renditions
from engine.render import format_date
from engine.timeline import Timeline, compile_timeline, edit_reach_us, track_mismatch
from schedule_api import db, rules
from schedule_api.errors import Conflict, NotFound, Unprocessable
from schedule_api.events import (
    BreakRule,
    Span,
    breaks_us,
    check_lock_horizon,
    check_no_overlap_within,
    place_breaks,
    resolve_overlaps,
    rule_breaks,
    shortened_program,
    snap_clip,
)
from schedule_api.guide import ProgramInfo
from schedule_api.models import (
    Asset,
    BreakRuleModel,
    Channel,
    Event,
    EventBreak,
    RenditionSummary,
    Rule,
)

ADVISORY_LOCK = 7_301_001
"""PostgreSQL advisory lock key that serialises plan writes across service processes."""
INDEX_CACHE_SIZE = 256
TIMELINE_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True)
class PlanPage:
    """One answer of the plan feed (Store.plans_since)."""

    revision: int
    plans: list[Plan]
    deleted: list[str]
    next_after: str | None
    """More changed channels follow this id (ask again with it as `after`), or None."""


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event as a write asks for it (version None: the latest; title None: no override)."""

    id: str
    asset_id: str
    version: int | None
    start_us: int
    clip_in_us: int | None
    clip_out_us: int | None
    title: str | None
    field: str = ""
    """Where the request gave it, for error messages (e.g. 'events.3')."""
    breaks: tuple[tuple[int, int], ...] | None = None
    """Ad breaks as (offset into the clip, duration), microseconds; None: the channel's rule."""


@dataclass(frozen=True, slots=True)
class _Placed:
    spec: EventSpec
    version: int
    first_segment: int
    end_segment: int
    duration_us: int
    """The clip and its breaks."""
    breaks: list[dict[str, int]]


def xmltv_id(channel_id: str) -> str:
    """The channel's id in XMLTV and M3U (tvg-id): XMLTV ids look like domain names."""
    return f"{channel_id}.vchannel"


def _rule(row: sa.Row[Any]) -> Rule:
    spec = row.spec
    cursor = rules.Cursor.from_json(row.state)
    return Rule(
        id=row.id,
        channel=row.channel_id,
        kind=row.kind,
        start=format_date(row.start_us),
        play=spec.get("play"),
        seed=spec.get("seed"),
        slots=spec.get("slots"),
        filler=spec.get("filler"),
        horizon_hours=spec["horizon_hours"],
        materialised_until=format_date(cursor.next_us),
        items_placed=cursor.placed,
        last_run=None if row.materialised_us is None else format_date(row.materialised_us),
        created=format_date(row.created_us),
    )


def new_event_id() -> str:
    return f"ev-{secrets.token_hex(8)}"


def _channel(row: sa.Row[Any]) -> Channel:
    return Channel(
        id=row.id,
        name=row.name,
        slate=row.slate_asset_id,
        slate_version=row.slate_version,
        target_duration=row.target_duration,
        window_seconds=row.window_ms / 1000,
        time_zone=row.time_zone,
        artwork_url=row.artwork_url,
        group=row.group_title,
        max_shift_seconds=row.max_shift_seconds,
        xmltv_id=xmltv_id(row.id),
        profile=[ProfileEntryModel.model_validate(p) for p in row.profile],
        ad_markers=AdMarkersModel.model_validate(row.ad_markers),
        break_rule=None
        if row.break_rule is None
        else BreakRuleModel.model_validate(row.break_rule),
        audio_tracks=[TrackSpecModel.model_validate(t) for t in row.audio_tracks],
        subtitle_tracks=[TrackSpecModel.model_validate(t) for t in row.subtitle_tracks],
        subtitle_target_duration=row.subtitle_target_duration,
        playback_path=f"/live/master.m3u8?channel={row.id}",
        created=format_date(row.created_us),
        created_ms=row.created_us // 1000,
        updated=format_date(row.updated_us),
        updated_ms=row.updated_us // 1000,
    )


def _core_channel(row: sa.Row[Any]) -> CoreChannel:
    return CoreChannel(
        id=row.id,
        name=row.name,
        profile=tuple(ProfileEntryModel.model_validate(p).to_core() for p in row.profile),
        target_duration_s=row.target_duration,
        window_us=row.window_ms * 1000,
        slate_asset_id=row.slate_asset_id,
        slate_version=row.slate_version,
        max_shift_us=row.max_shift_seconds * US_PER_S,
        ad_markers=AdMarkersModel.model_validate(row.ad_markers).to_core(),
        audio_tracks=tuple(TrackSpecModel.model_validate(t).to_core() for t in row.audio_tracks),
        subtitle_tracks=tuple(
            TrackSpecModel.model_validate(t).to_core() for t in row.subtitle_tracks
        ),
        subtitle_target_duration_s=row.subtitle_target_duration,
    )


def _break_rule(row: sa.Row[Any]) -> BreakRule | None:
    """The channel's break rule in microseconds (None: it has none)."""
    if row.break_rule is None:
        return None
    rule = BreakRuleModel.model_validate(row.break_rule)
    every = rule.every_minutes
    return BreakRule(
        duration_us=round(rule.duration_seconds * US_PER_S),
        every_us=None if every is None else round(every * 60 * US_PER_S),
        after_programs=rule.after_programs,
    )


def _breaks_json(breaks: Sequence[Break], asset: AssetIndex, first: int) -> list[dict[str, int]]:
    """Breaks as stored with an event: the segment, the length and the offset into the clip."""
    prefix = asset.prefix_us
    return [
        {
            "at_segment": b.at_segment,
            "duration_us": b.duration_us,
            "offset_us": prefix[b.at_segment] - prefix[first],
        }
        for b in breaks
    ]


def _core_breaks(stored: Sequence[dict[str, int]]) -> tuple[Break, ...]:
    return tuple(Break(b["at_segment"], b["duration_us"]) for b in stored)


def _event(row: sa.Row[Any]) -> Event:
    end_us = row.start_us + row.duration_us
    return Event(
        id=row.id,
        channel=row.channel_id,
        asset=row.asset_id,
        version=row.asset_version,
        title=row.title or row.asset_title,
        title_override=row.title or None,
        start=format_date(row.start_us),
        start_ms=row.start_us // 1000,
        end=format_date(end_us),
        end_ms=end_us // 1000,
        duration_seconds=row.duration_us / 1e6,
        clip_in_seconds=None if row.clip_in_us is None else row.clip_in_us / 1e6,
        clip_out_seconds=None if row.clip_out_us is None else row.clip_out_us / 1e6,
        first_segment=row.first_segment,
        end_segment=row.end_segment,
        breaks=[
            EventBreak(
                offset_seconds=b["offset_us"] / 1e6,
                duration_seconds=b["duration_us"] / 1e6,
                at_segment=b["at_segment"],
            )
            for b in row.breaks
        ],
        rule=row.rule_id,
        created=format_date(row.created_us),
        updated=format_date(row.updated_us),
    )


_EVENT_COLUMNS = (*db.events.c, db.assets.c.title.label("asset_title"))
_EVENTS_WITH_TITLES = db.events.join(
    db.assets,
    (db.events.c.asset_id == db.assets.c.id) & (db.events.c.asset_version == db.assets.c.version),
)


def _asset(row: sa.Row[Any], versions: list[int]) -> Asset:
    return Asset(
        id=row.id,
        version=row.version,
        versions=versions,
        url=row.url,
        title=row.title,
        description=row.description,
        genre=row.genre,
        episode=row.episode,
        rating=row.rating,
        artwork_url=row.artwork_url,
        tags=list(row.tags),
        container=row.container,
        duration_seconds=row.duration_us / 1e6,
        duration_ms=row.duration_us // 1000,
        max_segment_seconds=row.max_segment_us / 1e6,
        renditions=[RenditionSummary.model_validate(r) for r in row.renditions],
        ingested=format_date(row.ingested_us),
        ingested_ms=row.ingested_us // 1000,
    )


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._write_lock = asyncio.Lock()
        self._indexes: OrderedDict[AssetKey, AssetIndex] = OrderedDict()
        self._timelines: OrderedDict[tuple[str, bool], Timeline] = OrderedDict()

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, serialised with every other plan write."""
        async with self._write_lock, self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK}
                )
            yield connection

    @staticmethod
    async def _record(
        connection: AsyncConnection, channel_id: str, now_us: int, deleted: bool = False
    ) -> None:
        await connection.execute(
            db.changes.insert().values(channel_id=channel_id, deleted=deleted, at_us=now_us)
        )

    # --- channels ------------------------------------------------------------------------
    async def create_channel(self, values: dict[str, Any], now_us: int) -> Channel:
        row = {**values, "checkpoint_us": now_us // 1_000_000 * 1_000_000}
        row.update(created_us=now_us, updated_us=now_us)
        try:
            async with self._write() as connection:
                await connection.execute(db.channels.insert().values(**row))
                await self._record(connection, values["id"], now_us)
        except IntegrityError:
            raise Conflict("id", f"channel {values['id']!r} already exists") from None
        return await self.channel(values["id"])

    @staticmethod
    async def _channel_row(connection: AsyncConnection, channel_id: str) -> sa.Row[Any]:
        row = (
            await connection.execute(db.channels.select().where(db.channels.c.id == channel_id))
        ).first()
        if row is None:
            raise NotFound("id", f"channel {channel_id!r} does not exist")
        return row

    async def channel(self, channel_id: str) -> Channel:
        async with self.engine.connect() as connection:
            return _channel(await self._channel_row(connection, channel_id))

    async def channels(self) -> list[Channel]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(db.channels.select().order_by(db.channels.c.id))).all()
        return [_channel(row) for row in rows]

    async def update_channel(
        self, channel_id: str, changes: dict[str, Any], now_us: int
    ) -> Channel:
        async with self._write() as connection:
            result = await connection.execute(
                db.channels.update()
                .where(db.channels.c.id == channel_id)
                .values(**changes, updated_us=now_us)
            )
            if result.rowcount == 0:
                raise NotFound("id", f"channel {channel_id!r} does not exist")
            await self._record(connection, channel_id, now_us)
        return await self.channel(channel_id)

    async def delete_channel(self, channel_id: str, now_us: int) -> None:
        async with self._write() as connection:
            await connection.execute(db.events.delete().where(db.events.c.channel_id == channel_id))
            result = await connection.execute(
                db.channels.delete().where(db.channels.c.id == channel_id)
            )
            if result.rowcount == 0:
                raise NotFound("id", f"channel {channel_id!r} does not exist")
            await self._record(connection, channel_id, now_us, deleted=True)

    # --- asset indexes (immutable, so cached) ---------------------------------------------
    async def index(self, key: AssetKey, connection: AsyncConnection | None = None) -> AssetIndex:
        """The parsed index of one asset version (NotFound names it)."""
        cached = self._indexes.get(key)
        if cached is not None:
            self._indexes.move_to_end(key)
            return cached
        query = sa.select(db.assets.c.index_json).where(
            (db.assets.c.id == key[0]) & (db.assets.c.version == key[1])
        )
        if connection is None:
            async with self.engine.connect() as own:
                text = (await own.execute(query)).scalar()
        else:
            text = (await connection.execute(query)).scalar()
        if text is None:
            raise NotFound("asset", f"{describe(key)} does not exist")
        index = AssetIndexModel.model_validate(json.loads(text)).to_core()
        self._indexes[key] = index
        if len(self._indexes) > INDEX_CACHE_SIZE:
            self._indexes.popitem(last=False)
        return index

    @staticmethod
    async def _latest_version(connection: AsyncConnection, asset_id: str) -> int | None:
        latest = (
            await connection.execute(
                sa.select(sa.func.max(db.assets.c.version)).where(db.assets.c.id == asset_id)
            )
        ).scalar()
        return None if latest is None else int(latest)

    # --- events --------------------------------------------------------------------------
    async def events(self, channel_id: str, start_us: int, end_us: int, limit: int) -> list[Event]:
        """Events of a channel that overlap [start_us, end_us), by start."""
        e = db.events.c
        async with self.engine.connect() as connection:
            await self._channel_row(connection, channel_id)
            rows = (
                await connection.execute(
                    sa.select(*_EVENT_COLUMNS)
                    .select_from(_EVENTS_WITH_TITLES)
                    .where(
                        (e.channel_id == channel_id)
                        & (e.start_us < end_us)
                        & (e.start_us + e.duration_us > start_us)
                    )
                    .order_by(e.start_us)
                    .limit(limit)
                )
            ).all()
        return [_event(row) for row in rows]

    @staticmethod
    async def _event_row(
        connection: AsyncConnection, channel_id: str, event_id: str
    ) -> sa.Row[Any]:
        row = (
            await connection.execute(
                sa.select(*_EVENT_COLUMNS)
                .select_from(_EVENTS_WITH_TITLES)
                .where((db.events.c.channel_id == channel_id) & (db.events.c.id == event_id))
            )
        ).first()
        if row is None:
            raise NotFound("event_id", f"channel {channel_id!r} has no event {event_id!r}")
        return row

    async def event_spec(self, channel_id: str, event_id: str) -> EventSpec:
        """An event as stored, in the form a write takes (exact microseconds)."""
        async with self.engine.connect() as connection:
            await self._channel_row(connection, channel_id)
            row = await self._event_row(connection, channel_id, event_id)
        return EventSpec(
            id=row.id,
            asset_id=row.asset_id,
            version=row.asset_version,
            start_us=row.start_us,
            clip_in_us=row.clip_in_us,
            clip_out_us=row.clip_out_us,
            title=row.title or None,
            breaks=tuple((b["offset_us"], b["duration_us"]) for b in row.breaks),
        )

    async def event(self, channel_id: str, event_id: str) -> Event:
        async with self.engine.connect() as connection:
            await self._channel_row(connection, channel_id)
            return _event(await self._event_row(connection, channel_id, event_id))

    async def _place(
        self, connection: AsyncConnection, channel: sa.Row[Any], spec: EventSpec
    ) -> _Placed:
        """Resolve the asset version, check that it can air on the channel, snap the clip."""
        name = f"{spec.field}." if spec.field else ""
        version = spec.version
        if version is None:
            version = await self._latest_version(connection, spec.asset_id)
            if version is None:
                raise Unprocessable(f"{name}asset", f"asset {spec.asset_id!r} does not exist")
        try:
            asset = await self.index((spec.asset_id, version), connection)
        except NotFound as error:
            raise Unprocessable(f"{name}version", error.reason) from None
        await self._check_airable(connection, channel, asset, f"{name}asset")
        clip = snap_clip(asset, spec.clip_in_us, spec.clip_out_us, spec.field)
        first, end = clip.first_segment, clip.end_segment
        if spec.breaks is not None:
            breaks = place_breaks(asset, first, end, spec.breaks, f"{name}breaks")
        else:
            rule = _break_rule(channel)
            breaks = () if rule is None else rule_breaks(asset, first, end, rule)
        return _Placed(
            spec,
            version,
            first,
            end,
            clip.duration_us + breaks_us(breaks),
            _breaks_json(breaks, asset, first),
        )

    async def _check_airable(
        self, connection: AsyncConnection, channel: sa.Row[Any], asset: AssetIndex, field: str
    ) -> None:
        """Unprocessable naming `field` unless the asset version can air on the channel."""
        core = _core_channel(channel)
        slate = await self.index(core.slate_key, connection)
        what = describe(asset.key)
        if asset.container != slate.container:
            raise Unprocessable(
                field,
                f"{what} is {asset.container.value} but the channel plays "
                f"{slate.container.value}: a channel keeps one segment format",
            )
        longest = asset.max_segment_us()
        if rounded_seconds(longest) > core.target_duration_s:
            raise Unprocessable(
                field,
                f"{what} has a {longest / 1e6:.3f} s segment, longer than the channel's "
                f"target duration of {core.target_duration_s} s",
            )
        try:
            map_renditions(core.profile, asset)
        except PlanError as error:
            raise Unprocessable(field, f"{what}: {error.reason}") from None
        reason = track_mismatch(core, asset)
        if reason is not None:
            raise Unprocessable(field, f"{what} {reason}")

    async def write_events(
        self,
        channel_id: str,
        specs: list[EventSpec],
        *,
        replace: bool,
        now_us: int,
        margin_us: int,
        updating: str | None = None,
    ) -> list[Event]:
        """Create events (or, with `updating`, change that one event) in one transaction.

        Overlaps are refused with 409 unless `replace`; edits that reach before the lock
        horizon are refused with 409 (schedule_api.events).
        """
        e = db.events.c
        try:
            async with self._write() as connection:
                channel = await self._channel_row(connection, channel_id)
                reach = edit_reach_us(_core_channel(channel))
                touched: list[int] = []
                if updating is not None:
                    old = await self._event_row(connection, channel_id, updating)
                    touched.append(old.start_us)
                placed = [await self._place(connection, channel, spec) for spec in specs]
                spans = [Span(p.spec.id, p.spec.start_us, p.duration_us) for p in placed]
                check_no_overlap_within(spans)
                touched += [span.start_us for span in spans]
                check_lock_horizon(touched, now_us, margin_us, reach)
                rows = (
                    await connection.execute(
                        db.events.select().where(
                            (e.channel_id == channel_id)
                            & (e.start_us < max(span.end_us for span in spans))
                            & (e.start_us + e.duration_us > min(span.start_us for span in spans))
                            & (e.id != (updating or ""))
                        )
                    )
                ).all()
                existing = {row.id: row for row in rows}
                resolution = resolve_overlaps(
                    spans,
                    [Span(r.id, r.start_us, r.duration_us, r.rule_id is not None) for r in rows],
                    replace,
                )
                deleted = list(resolution.deleted)
                shortened: list[tuple[str, dict[str, Any]]] = []  # (event id, new values)
                for event_id, by_us in resolution.shortened:
                    row = existing[event_id]
                    asset = await self.index((row.asset_id, row.asset_version), connection)
                    end, kept = shortened_program(
                        asset,
                        row.first_segment,
                        row.end_segment,
                        _core_breaks(row.breaks),
                        row.start_us,
                        by_us,
                    )
                    if end == row.first_segment:
                        deleted.append(event_id)
                        continue
                    prefix = asset.prefix_us
                    duration = prefix[end] - prefix[row.first_segment] + breaks_us(kept)
                    touched.append(row.start_us + duration)
                    shortened.append(
                        (
                            event_id,
                            {
                                "end_segment": end,
                                "duration_us": duration,
                                "clip_out_us": prefix[end],
                                "breaks": _breaks_json(kept, asset, row.first_segment),
                            },
                        )
                    )
                touched += [existing[i].start_us for i in deleted]
                check_lock_horizon(touched, now_us, margin_us, reach)
                if deleted:
                    await connection.execute(db.events.delete().where(e.id.in_(deleted)))
                for event_id, changes in shortened:
                    await connection.execute(
                        db.events.update()
                        .where(e.id == event_id)
                        .values(**changes, updated_us=now_us)
                    )
                for p in placed:
                    values = {
                        "asset_id": p.spec.asset_id,
                        "asset_version": p.version,
                        "start_us": p.spec.start_us,
                        "duration_us": p.duration_us,
                        "first_segment": p.first_segment,
                        "end_segment": p.end_segment,
                        "clip_in_us": p.spec.clip_in_us,
                        "clip_out_us": p.spec.clip_out_us,
                        "title": p.spec.title or "",
                        "breaks": p.breaks,
                        "updated_us": now_us,
                        "rule_id": None,  # an edited rule event becomes hand-made
                        "occurrence": None,
                    }
                    if updating is not None:
                        await connection.execute(
                            db.events.update().where(e.id == updating).values(**values)
                        )
                    else:
                        await connection.execute(
                            db.events.insert().values(
                                id=p.spec.id, channel_id=channel_id, created_us=now_us, **values
                            )
                        )
                await self._record(connection, channel_id, now_us)
                return [
                    _event(await self._event_row(connection, channel_id, p.spec.id)) for p in placed
                ]
        except IntegrityError:
            raise Conflict("id", "an event with this id already exists") from None

    async def delete_event(
        self, channel_id: str, event_id: str, *, now_us: int, margin_us: int
    ) -> None:
        async with self._write() as connection:
            channel = await self._channel_row(connection, channel_id)
            row = await self._event_row(connection, channel_id, event_id)
            check_lock_horizon(
                [row.start_us], now_us, margin_us, edit_reach_us(_core_channel(channel)), "id"
            )
            await connection.execute(db.events.delete().where(db.events.c.id == event_id))
            await self._record(connection, channel_id, now_us)

    # --- rules ---------------------------------------------------------------------------
    async def _collection(
        self,
        connection: AsyncConnection,
        channel: sa.Row[Any],
        spec: dict[str, Any],
        field: str,
        strict: bool,
    ) -> tuple[AssetIndex, ...]:
        """The latest version of each asset of a collection that can air on the channel.

        strict (writing a rule): a missing or unfit asset, or a tag nobody has, is a 422
        naming the field. Otherwise (materialising later) such assets are left out."""
        found: list[AssetIndex] = []
        if spec.get("assets"):
            for i, asset_id in enumerate(spec["assets"]):
                version = await self._latest_version(connection, asset_id)
                if version is None:
                    if strict:
                        raise Unprocessable(
                            f"{field}.assets.{i}", f"asset {asset_id!r} does not exist"
                        )
                    continue
                index = await self.index((asset_id, version), connection)
                try:
                    await self._check_airable(connection, channel, index, f"{field}.assets.{i}")
                except Unprocessable:
                    if strict:
                        raise
                    continue
                found.append(index)
            return tuple(found)
        tag = spec["tag"]
        latest = (
            sa.select(db.assets.c.id, sa.func.max(db.assets.c.version).label("version"))
            .group_by(db.assets.c.id)
            .subquery()
        )
        rows = (
            await connection.execute(
                sa.select(
                    db.assets.c.id, db.assets.c.version, db.assets.c.episode, db.assets.c.tags
                )
                .select_from(
                    db.assets.join(
                        latest,
                        (db.assets.c.id == latest.c.id) & (db.assets.c.version == latest.c.version),
                    )
                )
                .order_by(db.assets.c.episode, db.assets.c.id)
            )
        ).all()
        for row in rows:
            if tag not in row.tags:
                continue
            index = await self.index((row.id, row.version), connection)
            try:
                await self._check_airable(connection, channel, index, f"{field}.tag")
            except Unprocessable:
                continue  # one unfit episode should not stop the others
            found.append(index)
        if strict and not found:
            raise Unprocessable(
                f"{field}.tag", f"no asset that can air on this channel has tag {tag!r}"
            )
        return tuple(found)

    async def _core_rule(
        self,
        connection: AsyncConnection,
        channel: sa.Row[Any],
        rule_id: str,
        kind: str,
        spec: dict[str, Any],
        start_us: int,
        strict: bool,
    ) -> rules.Rule:
        if kind != rules.RuleKind.SLOTS:
            return rules.Rule(
                id=rule_id,
                kind=rules.RuleKind(kind),
                start_us=start_us,
                items=await self._collection(connection, channel, spec["play"], "play", strict),
                seed=int(spec.get("seed") or 0),
                breaks=_break_rule(channel),
            )
        slots = []
        for i, slot in enumerate(spec["slots"]):
            items = await self._collection(
                connection, channel, slot["play"], f"slots.{i}.play", strict
            )
            weekdays = frozenset(rules.WEEKDAYS.index(d) for d in slot["days"])
            slots.append(rules.GridSlot(time.fromisoformat(slot["at"]), weekdays, items))
        filler: tuple[AssetIndex, ...] = ()
        if spec.get("filler"):
            filler = await self._collection(connection, channel, spec["filler"], "filler", strict)
        return rules.Rule(
            id=rule_id,
            kind=rules.RuleKind.SLOTS,
            start_us=start_us,
            slots=tuple(slots),
            filler=filler,
            time_zone=channel.time_zone,
            breaks=_break_rule(channel),
        )

    @staticmethod
    async def _busy(
        connection: AsyncConnection, channel_id: str, from_us: int
    ) -> list[tuple[int, int]]:
        e = db.events.c
        rows = await connection.execute(
            sa.select(e.start_us, e.duration_us).where(
                (e.channel_id == channel_id) & (e.start_us + e.duration_us > from_us)
            )
        )
        return [(row.start_us, row.start_us + row.duration_us) for row in rows]

    @staticmethod
    async def _rule_row(connection: AsyncConnection, channel_id: str, rule_id: str) -> sa.Row[Any]:
        row = (
            await connection.execute(
                db.rules.select().where(
                    (db.rules.c.channel_id == channel_id) & (db.rules.c.id == rule_id)
                )
            )
        ).first()
        if row is None:
            raise NotFound("rule_id", f"channel {channel_id!r} has no rule {rule_id!r}")
        return row

    async def _rule_start(
        self, channel_id: str, start_us: int | None, now_us: int, margin_us: int
    ) -> int:
        """Where a rule starts filling: the instant asked for, but never before the earliest
        editable instant. By default the first segment boundary of the channel's current
        timeline at or after that instant, so the rule's first item cuts no segment of what
        airs before it."""
        timeline = await self.timeline(channel_id)
        earliest = now_us + margin_us + edit_reach_us(timeline.plan.channel)
        if start_us is not None:
            return max(start_us, earliest)
        slot = timeline.slot(timeline.media_sequence_at(earliest))
        return slot.start_us if slot.start_us >= earliest else slot.end_us

    async def create_rule(
        self,
        channel_id: str,
        rule_id: str,
        kind: str,
        spec: dict[str, Any],
        start_us: int | None,
        *,
        now_us: int,
        margin_us: int,
    ) -> Rule:
        """Store a rule (its collections are checked now); materialise it separately."""
        start = await self._rule_start(channel_id, start_us, now_us, margin_us)
        try:
            async with self._write() as connection:
                channel = await self._channel_row(connection, channel_id)
                await self._core_rule(connection, channel, rule_id, kind, spec, start, True)
                await connection.execute(
                    db.rules.insert().values(
                        id=rule_id,
                        channel_id=channel_id,
                        kind=kind,
                        spec=spec,
                        state=rules.Cursor(start).to_json(),
                        start_us=start,
                        created_us=now_us,
                        updated_us=now_us,
                    )
                )
        except IntegrityError:
            raise Conflict("id", f"rule {rule_id!r} already exists") from None
        return await self.rule(channel_id, rule_id)

    async def rule(self, channel_id: str, rule_id: str) -> Rule:
        async with self.engine.connect() as connection:
            await self._channel_row(connection, channel_id)
            return _rule(await self._rule_row(connection, channel_id, rule_id))

    async def channel_rules(self, channel_id: str) -> list[Rule]:
        async with self.engine.connect() as connection:
            await self._channel_row(connection, channel_id)
            rows = await connection.execute(
                db.rules.select()
                .where(db.rules.c.channel_id == channel_id)
                .order_by(db.rules.c.created_us, db.rules.c.id)
            )
            return [_rule(row) for row in rows]

    async def delete_rule(
        self, channel_id: str, rule_id: str, *, keep_events: bool, now_us: int, margin_us: int
    ) -> int:
        """Delete a rule and (unless keep_events) its events that start after the earliest
        editable instant; returns how many events went."""
        e = db.events.c
        async with self._write() as connection:
            channel = await self._channel_row(connection, channel_id)
            await self._rule_row(connection, channel_id, rule_id)
            earliest = now_us + margin_us + edit_reach_us(_core_channel(channel))
            removed = 0
            if not keep_events:
                result = await connection.execute(
                    db.events.delete().where((e.rule_id == rule_id) & (e.start_us >= earliest))
                )
                removed = result.rowcount
            await connection.execute(db.rules.delete().where(db.rules.c.id == rule_id))
            if removed:
                await self._record(connection, channel_id, now_us)
        return removed

    async def preview_rule(
        self,
        channel_id: str,
        kind: str,
        spec: dict[str, Any],
        start_us: int | None,
        *,
        now_us: int,
        margin_us: int,
        horizon_us: int,
    ) -> tuple[rules.Placement, ...]:
        """The events a rule would create now, written nowhere."""
        start = await self._rule_start(channel_id, start_us, now_us, margin_us)
        async with self.engine.connect() as connection:
            channel = await self._channel_row(connection, channel_id)
            earliest = now_us + margin_us + edit_reach_us(_core_channel(channel))
            rule = await self._core_rule(connection, channel, "preview", kind, spec, start, True)
            busy = await self._busy(connection, channel_id, earliest)
        return rules.materialise(
            rule, rules.Cursor(start), busy, earliest, now_us + horizon_us
        ).placements

    async def materialise_rule(
        self, channel_id: str, rule_id: str, *, now_us: int, margin_us: int
    ) -> tuple[rules.Placement, ...]:
        """Fill the schedule from the rule up to its horizon, once: the cursor and the events
        are written in one serialised transaction, and occurrence keys are unique per rule.
        Another process materialising at the same moment makes one of the two transactions
        fail (unique key, or SQLite's stale snapshot); it is retried and then finds the work
        done."""
        for attempt in range(5):
            try:
                async with self._write() as connection:
                    return await self._materialise(
                        connection, channel_id, rule_id, now_us, margin_us
                    )
            except (IntegrityError, OperationalError):
                if attempt == 4:
                    raise
                await asyncio.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _materialise(
        self,
        connection: AsyncConnection,
        channel_id: str,
        rule_id: str,
        now_us: int,
        margin_us: int,
    ) -> tuple[rules.Placement, ...]:
        channel = await self._channel_row(connection, channel_id)
        row = await self._rule_row(connection, channel_id, rule_id)
        cursor = rules.Cursor.from_json(row.state)
        earliest = now_us + margin_us + edit_reach_us(_core_channel(channel))
        until = now_us + round(row.spec["horizon_hours"] * 3600 * US_PER_S)
        if max(cursor.next_us, earliest) >= until:
            return ()
        rule = await self._core_rule(
            connection, channel, row.id, row.kind, row.spec, row.start_us, False
        )
        busy = await self._busy(connection, channel_id, earliest)
        result = rules.materialise(rule, cursor, busy, earliest, until)
        for placement in result.placements:
            asset = placement.asset
            await connection.execute(
                db.events.insert().values(
                    id=new_event_id(),
                    channel_id=channel_id,
                    asset_id=asset.id,
                    asset_version=asset.version,
                    start_us=placement.start_us,
                    duration_us=placement.duration_us,
                    first_segment=0,
                    end_segment=placement.end_segment,
                    clip_in_us=None,
                    clip_out_us=placement.clip_us if placement.cut else None,
                    title="",
                    breaks=_breaks_json(placement.breaks, asset, 0),
                    rule_id=rule_id,
                    occurrence=placement.occurrence,
                    created_us=now_us,
                    updated_us=now_us,
                )
            )
        await connection.execute(
            db.rules.update()
            .where(db.rules.c.id == rule_id)
            .values(state=result.cursor.to_json(), materialised_us=now_us, updated_us=now_us)
        )
        if result.placements:
            await self._record(connection, channel_id, now_us)
        return result.placements

    async def rule_ids(self) -> list[tuple[str, str]]:
        """(channel id, rule id) of every rule, in the order they materialise."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(db.rules.c.channel_id, db.rules.c.id).order_by(
                    db.rules.c.channel_id, db.rules.c.created_us, db.rules.c.id
                )
            )
            return [(row.channel_id, row.id) for row in rows]

    # --- plans ---------------------------------------------------------------------------
    @staticmethod
    async def _plans(
        connection: AsyncConnection, channels: Sequence[sa.Row[Any]], full: bool = False
    ) -> list[Plan]:
        """The channels' plans as engines get them, in three queries whatever their number:
        each from its compaction point when it has one (engine.compaction), or with `full`
        from its creation (for the as-run log)."""
        if not channels:
            return []
        ids = [channel.id for channel in channels]
        c, e = db.changes.c, db.events.c
        revisions: dict[str, int] = {
            channel_id: revision
            for channel_id, revision in await connection.execute(
                sa.select(c.channel_id, sa.func.max(c.revision))
                .where(c.channel_id.in_(ids))
                .group_by(c.channel_id)
            )
        }
        # Events from each channel's compaction point on: the compaction event's start is
        # joined in, so that one query serves every channel.
        point = db.events.alias("point")
        query = (
            sa.select(db.events)
            .select_from(
                db.events.join(db.channels, db.channels.c.id == e.channel_id).outerjoin(
                    point, point.c.id == db.channels.c.compact_event_id
                )
            )
            .where(e.channel_id.in_(ids))
            .order_by(e.channel_id, e.start_us)
        )
        if not full:
            query = query.where(sa.or_(point.c.start_us.is_(None), e.start_us >= point.c.start_us))
        rows_by_channel: dict[str, list[sa.Row[Any]]] = {i: [] for i in ids}
        for row in await connection.execute(query):
            rows_by_channel[row.channel_id].append(row)
        plans = []
        for channel in channels:
            rows = rows_by_channel[channel.id]
            compacted = (
                not full
                and channel.compact_event_id is not None
                and any(row.id == channel.compact_event_id for row in rows[:1])
            )
            checkpoint = (
                Checkpoint(
                    channel.compact_us,
                    channel.compact_msn,
                    channel.compact_dsn,
                    tuple(sorted((channel.compact_subtitles or {}).items())),
                )
                if compacted
                else Checkpoint(channel.checkpoint_us)
            )
            blocks = tuple(
                Block(
                    checkpoint.time_us if compacted and position == 0 else row.start_us,
                    CoreClip(
                        row.asset_id,
                        row.first_segment,
                        row.end_segment,
                        row.title,
                        row.asset_version,
                    ),
                    row.id,
                    _core_breaks(row.breaks),
                )
                for position, row in enumerate(rows)
            )
            plans.append(
                Plan(
                    channel=_core_channel(channel),
                    revision=int(revisions.get(channel.id) or 0),
                    checkpoint=checkpoint,
                    blocks=blocks,
                )
            )
        return plans

    @classmethod
    async def _plan(
        cls, connection: AsyncConnection, channel: sa.Row[Any], full: bool = False
    ) -> Plan:
        return (await cls._plans(connection, [channel], full))[0]

    async def compaction_candidates(self, *, now_us: int, retention_us: int) -> list[str]:
        """The channels whose plan may compact now (compact_plan decides): those with a
        program scheduled after their plan's start and at least retention_us ago. A program
        never begins to air before its scheduled start, and compact_plan keeps at least
        retention_us, so no channel that can compact is left out. One query, so a pass over
        10,000 channels with nothing to compact costs milliseconds, not 10,000 plan
        compilations."""
        ch, e = db.channels.c, db.events.c
        point = db.events.alias("point")
        query = (
            sa.select(ch.id)
            .distinct()
            .select_from(
                db.channels.join(db.events, e.channel_id == ch.id).outerjoin(
                    point, point.c.id == ch.compact_event_id
                )
            )
            .where(e.start_us <= now_us - retention_us)
            .where(e.start_us > sa.func.coalesce(point.c.start_us, ch.checkpoint_us))
            .order_by(ch.id)
        )
        async with self.engine.connect() as connection:
            return [row.id for row in await connection.execute(query)]

    async def compact_plan(self, channel_id: str, *, now_us: int, retention_us: int) -> bool:
        """Move the channel's plan start to the latest program that began at or before
        now - retention (engine.compaction); True when it moved. Nothing the engines serve
        from then on changes, so this is a plan write like any other (a new revision)."""
        async with self._write() as connection:
            channel = await self._channel_row(connection, channel_id)
            plan = await self._plan(connection, channel)
            assets = {key: await self.index(key, connection) for key in plan.asset_keys()}
            # never drop what time-shift may still serve
            keep = max(
                retention_us, channel.max_shift_seconds * US_PER_S + 2 * channel.window_ms * 1000
            )
            point = compaction_point(compile_timeline(plan, assets), now_us - keep)
            if point is None:
                return False
            await connection.execute(
                db.channels.update()
                .where(db.channels.c.id == channel_id)
                .values(
                    compact_event_id=point.event_id,
                    compact_us=point.checkpoint.time_us,
                    compact_msn=point.checkpoint.media_sequence,
                    compact_dsn=point.checkpoint.discontinuity_sequence,
                    compact_subtitles=dict(point.checkpoint.subtitle_sequences),
                )
            )
            await self._record(connection, channel_id, now_us)
        return True

    async def latest_revision(self) -> int:
        """The revision of the latest plan change (0: none yet)."""
        async with self.engine.connect() as connection:
            found = await connection.execute(sa.select(sa.func.max(db.changes.c.revision)))
            return int(found.scalar() or 0)

    async def plans_since(
        self, since: int, until: int | None = None, after: str = "", limit: int = 1000
    ) -> PlanPage:
        """A page of the plan feed: the plans of the channels changed after revision `since`
        (up to `until`, default the latest), by channel id after `after`, at most `limit`.

        The latest revision is read first: a write that commits meanwhile is either in the
        answer or after the revision returned, so the next poll gets it. Later pages of the
        same poll pass that revision as `until`; a channel changed since is read as it is now,
        which is only newer.
        """
        c = db.changes.c
        async with self.engine.connect() as connection:
            latest = int(
                (await connection.execute(sa.select(sa.func.max(c.revision)))).scalar() or 0
            )
            if until is not None:
                latest = min(latest, until)
            if latest <= since:
                return PlanPage(latest, [], [], None)
            changed = [
                row.channel_id
                for row in await connection.execute(
                    sa.select(c.channel_id)
                    .where((c.revision > since) & (c.revision <= latest) & (c.channel_id > after))
                    .group_by(c.channel_id)
                    .order_by(c.channel_id)
                    .limit(limit + 1)
                )
            ]
            following = changed[limit - 1] if len(changed) > limit else None
            changed = changed[:limit]
            rows = {
                row.id: row
                for row in await connection.execute(
                    db.channels.select().where(db.channels.c.id.in_(changed))
                )
            }
            plans = await self._plans(connection, [rows[i] for i in changed if i in rows])
        return PlanPage(latest, plans, [i for i in changed if i not in rows], following)

    async def asset_indexes(self, keys: Sequence[AssetKey]) -> dict[AssetKey, str]:
        """The stored index JSON of these asset versions (the ones that exist), in one query."""
        if not keys:
            return {}
        a = db.assets.c
        wanted = sa.tuple_(a.id, a.version).in_([tuple(key) for key in keys])
        async with self.engine.connect() as connection:
            rows = await connection.execute(sa.select(a.id, a.version, a.index_json).where(wanted))
            return {(row.id, row.version): str(row.index_json) for row in rows}

    async def timeline(self, channel_id: str, full: bool = False) -> Timeline:
        """The channel's compiled timeline, as every engine computes it (compiled once per
        plan revision); `full`: from the channel's creation, ignoring compaction."""
        async with self.engine.connect() as connection:
            channel = await self._channel_row(connection, channel_id)
            revision = (
                await connection.execute(
                    sa.select(sa.func.max(db.changes.c.revision)).where(
                        db.changes.c.channel_id == channel_id
                    )
                )
            ).scalar()
            cached = self._timelines.get((channel_id, full))
            if cached is not None and cached.plan.revision == int(revision or 0):
                self._timelines.move_to_end((channel_id, full))
                return cached
            plan = await self._plan(connection, channel, full)
            assets = {key: await self.index(key, connection) for key in plan.asset_keys()}
        timeline = compile_timeline(plan, assets)
        self._timelines[(channel_id, full)] = timeline
        if len(self._timelines) > TIMELINE_CACHE_SIZE:
            self._timelines.popitem(last=False)
        return timeline

    async def program_info(self, keys: set[AssetKey]) -> dict[AssetKey, ProgramInfo]:
        """Guide metadata of asset versions."""
        if not keys:
            return {}
        a = db.assets.c
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(a.id, a.version, a.description, a.genre, a.episode, a.rating)
                .add_columns(a.artwork_url)
                .where(a.id.in_(sorted({key[0] for key in keys})))
            )
            return {
                (row.id, row.version): ProgramInfo(
                    row.description, row.genre, row.episode, row.rating, row.artwork_url
                )
                for row in rows
                if (row.id, row.version) in keys
            }

    # --- assets --------------------------------------------------------------------------
    async def next_asset_version(self, asset_id: str) -> int:
        async with self.engine.connect() as connection:
            latest = (
                await connection.execute(
                    sa.select(sa.func.max(db.assets.c.version)).where(db.assets.c.id == asset_id)
                )
            ).scalar()
        return int(latest or 0) + 1

    async def add_asset(self, index: AssetIndex, meta: dict[str, Any], now_us: int) -> Asset:
        row = {
            "id": index.id,
            "version": index.version,
            "url": index.url,
            "title": meta["title"],
            "description": meta.get("description", ""),
            "genre": meta.get("genre", ""),
            "episode": meta.get("episode", ""),
            "rating": meta.get("rating", ""),
            "artwork_url": meta.get("artwork_url"),
            "tags": sorted(set(meta.get("tags") or [])),
            "container": index.container.value,
            "duration_us": index.duration_us,
            "max_segment_us": index.max_segment_us(),
            "renditions": [
                {
                    "name": r.name,
                    "bandwidth": r.bandwidth,
                    "codecs": r.codecs,
                    "resolution": f"{r.resolution[0]}x{r.resolution[1]}" if r.resolution else None,
                    "segments": len(r.segments),
                }
                for r in index.renditions
            ]
            + [
                {
                    "name": t.name,
                    "type": t.type.value,
                    "bandwidth": 0,
                    "codecs": t.codecs,
                    "resolution": None,
                    "segments": len(t.segments),
                    "language": t.language,
                    "label": t.label,
                    "default": t.default,
                }
                for t in index.tracks
            ],
            "index_json": AssetIndexModel.from_core(index).model_dump_json(exclude_none=True),
            "ingested_us": now_us,
        }
        try:
            async with self.engine.begin() as connection:
                await connection.execute(db.assets.insert().values(**row))
        except IntegrityError:
            raise Conflict(
                "id", f"asset {index.id!r} version {index.version} was ingested meanwhile"
            ) from None
        return await self.asset(index.id)

    async def _versions(self, connection: AsyncConnection, asset_id: str) -> list[int]:
        rows = await connection.execute(
            sa.select(db.assets.c.version)
            .where(db.assets.c.id == asset_id)
            .order_by(db.assets.c.version)
        )
        return [row.version for row in rows]

    async def asset(self, asset_id: str, version: int | None = None) -> Asset:
        async with self.engine.connect() as connection:
            versions = await self._versions(connection, asset_id)
            wanted = version if version is not None else (versions[-1] if versions else None)
            if wanted not in versions:
                what = f"asset {asset_id!r}" + (f" version {version}" if version else "")
                raise NotFound("id", f"{what} does not exist")
            row = (
                await connection.execute(
                    db.assets.select().where(
                        (db.assets.c.id == asset_id) & (db.assets.c.version == wanted)
                    )
                )
            ).one()
        return _asset(row, versions)

    async def asset_index(self, asset_id: str, version: int | None = None) -> tuple[int, str]:
        """(version, AssetIndexModel JSON) of an asset version (the latest by default)."""
        asset = await self.asset(asset_id, version)
        async with self.engine.connect() as connection:
            text = (
                await connection.execute(
                    sa.select(db.assets.c.index_json).where(
                        (db.assets.c.id == asset_id) & (db.assets.c.version == asset.version)
                    )
                )
            ).scalar_one()
        return asset.version, str(text)

    async def asset_core(self, asset_id: str) -> AssetIndex:
        """The index of the latest version of an asset."""
        async with self.engine.connect() as connection:
            version = await self._latest_version(connection, asset_id)
        if version is None:
            raise NotFound("id", f"asset {asset_id!r} does not exist")
        return await self.index((asset_id, version))

    async def assets(self, query: str, limit: int, offset: int) -> tuple[list[Asset], int]:
        """Latest version of each asset whose id or title contains `query`, by id."""
        latest = (
            sa.select(db.assets.c.id, sa.func.max(db.assets.c.version).label("version"))
            .group_by(db.assets.c.id)
            .subquery()
        )
        joined = db.assets.join(
            latest, (db.assets.c.id == latest.c.id) & (db.assets.c.version == latest.c.version)
        )
        condition: sa.ColumnElement[bool] = sa.true()
        if query:
            pattern = f"%{query.lower()}%"
            condition = sa.or_(
                sa.func.lower(db.assets.c.title).like(pattern), db.assets.c.id.like(pattern)
            )
        async with self.engine.connect() as connection:
            total = (
                await connection.execute(
                    sa.select(sa.func.count()).select_from(joined).where(condition)
                )
            ).scalar_one()
            rows = (
                await connection.execute(
                    sa.select(db.assets)
                    .select_from(joined)
                    .where(condition)
                    .order_by(db.assets.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
            items = [_asset(row, await self._versions(connection, row.id)) for row in rows]
        return items, int(total)

    async def update_asset(self, asset_id: str, changes: dict[str, Any]) -> Asset:
        """Change the metadata of every version of an asset."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                db.assets.update().where(db.assets.c.id == asset_id).values(**changes)
            )
        if result.rowcount == 0:
            raise NotFound("id", f"asset {asset_id!r} does not exist")
        return await self.asset(asset_id)

    async def delete_asset(self, asset_id: str) -> None:
        """Delete every version; refused while a channel uses it as slate or in an event."""
        async with self._write() as connection:
            users = (
                await connection.execute(
                    sa.select(db.channels.c.id).where(db.channels.c.slate_asset_id == asset_id)
                )
            ).all()
            if users:
                raise Conflict(
                    "id",
                    f"asset {asset_id!r} is the slate of channel(s) "
                    f"{', '.join(r.id for r in users)}",
                )
            scheduled = (
                await connection.execute(
                    sa.select(db.events.c.channel_id, db.events.c.id, db.events.c.start_us)
                    .where(db.events.c.asset_id == asset_id)
                    .order_by(db.events.c.start_us)
                    .limit(1)
                )
            ).first()
            if scheduled is not None:
                raise Conflict(
                    "id",
                    f"asset {asset_id!r} is scheduled (channel {scheduled.channel_id!r}, event "
                    f"{scheduled.id!r} at {format_date(scheduled.start_us)}); delete its "
                    "events first",
                )
            result = await connection.execute(db.assets.delete().where(db.assets.c.id == asset_id))
        if result.rowcount == 0:
            raise NotFound("id", f"asset {asset_id!r} does not exist")
        for key in [k for k in self._indexes if k[0] == asset_id]:
            del self._indexes[key]

    # --- bulk ingest jobs ----------------------------------------------------------------
    async def create_job(self, job_id: str, items: list[dict[str, Any]], now_us: int) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                db.ingest_jobs.insert().values(
                    id=job_id, state="running", items=items, created_us=now_us, updated_us=now_us
                )
            )

    async def save_job(
        self, job_id: str, state: str, items: list[dict[str, Any]], now_us: int
    ) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                db.ingest_jobs.update()
                .where(db.ingest_jobs.c.id == job_id)
                .values(state=state, items=items, updated_us=now_us)
            )

    async def job(self, job_id: str) -> sa.Row[Any]:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    db.ingest_jobs.select().where(db.ingest_jobs.c.id == job_id)
                )
            ).first()
        if row is None:
            raise NotFound("job_id", f"ingest job {job_id!r} does not exist")
        return row

    async def interrupt_jobs(self, now_us: int) -> int:
        """Mark jobs that a previous process left running as interrupted (at start-up)."""
        async with self.engine.begin() as connection:
            rows = (
                await connection.execute(
                    db.ingest_jobs.select().where(db.ingest_jobs.c.state == "running")
                )
            ).all()
            for row in rows:
                items = [
                    {**item, "state": "interrupted"}
                    if item["state"] in ("queued", "running")
                    else item
                    for item in row.items
                ]
                await connection.execute(
                    db.ingest_jobs.update()
                    .where(db.ingest_jobs.c.id == row.id)
                    .values(state="interrupted", items=items, updated_us=now_us)
                )
        return len(rows)


def max_rounded_segment(asset: AssetIndex) -> int:
    return rounded_seconds(asset.max_segment_us())
