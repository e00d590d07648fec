"""Scheduling events: each write is one serialised transaction that places the events
(asset version, airability, clip snapping, breaks), resolves overlaps with what is there and
keeps the lock horizon (schedule_api/domain/events.py), then records a plan revision."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import Invalid, NotFound
from engine.model import AssetIndex, Channel
from engine.timeline import edit_reach_us
from schedule_api.domain.channels import (
    break_rule,
    breaks_json,
    check_airable,
    core_breaks,
    core_channel,
)
from schedule_api.domain.events import (
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
from schedule_api.store import Store
from schedule_api.store import assets as asset_rows
from schedule_api.store import channels as channel_rows
from schedule_api.store import events as event_rows
from schedule_api.store.rows import ChannelRow, EventRow


def new_event_id() -> str:
    return f"ev-{secrets.token_hex(8)}"


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
class EventWrite:
    """A write of events: new ones, or (with `updating`) a change of that one event."""

    channel_id: str
    specs: list[EventSpec]
    replace: bool
    now_us: int
    margin_us: int
    updating: str | None = None


async def airable_asset(
    store: Store, connection: AsyncConnection, channel: Channel, key: tuple[str, int], field: str
) -> AssetIndex:
    """The index of an asset version that can air on the channel (Invalid naming `field`)."""
    asset = await store.index(key, connection)
    slate = await store.index(channel.slate_key, connection)
    check_airable(channel, slate, asset, field)
    return asset


async def _place(
    store: Store, connection: AsyncConnection, channel: ChannelRow, spec: EventSpec, now_us: int
) -> EventRow:
    """The event as it will be stored: the asset version resolved and airable on the channel,
    the clip snapped to segments, its breaks placed."""
    name = f"{spec.field}." if spec.field else ""
    version = spec.version
    if version is None:
        version = await asset_rows.latest_version(connection, spec.asset_id)
        if version is None:
            raise Invalid(f"{name}asset", f"asset {spec.asset_id!r} does not exist")
    try:
        await store.index((spec.asset_id, version), connection)
    except NotFound as error:
        raise Invalid(f"{name}version", error.reason) from None
    key = (spec.asset_id, version)
    asset = await airable_asset(store, connection, core_channel(channel), key, f"{name}asset")
    clip = snap_clip(asset, spec.clip_in_us, spec.clip_out_us, spec.field)
    first, end = clip.first_segment, clip.end_segment
    if spec.breaks is not None:
        breaks = place_breaks(asset, first, end, spec.breaks, f"{name}breaks")
    else:
        rule = break_rule(channel)
        breaks = () if rule is None else rule_breaks(asset, first, end, rule)
    return EventRow(
        id=spec.id,
        channel_id=channel.id,
        asset_id=spec.asset_id,
        asset_version=version,
        start_us=spec.start_us,
        duration_us=clip.duration_us + breaks_us(breaks),
        first_segment=first,
        end_segment=end,
        clip_in_us=spec.clip_in_us,
        clip_out_us=spec.clip_out_us,
        title=spec.title or "",
        breaks=breaks_json(breaks, asset, first),
        rule_id=None,  # an edited rule event becomes hand-made
        occurrence=None,
        created_us=now_us,
        updated_us=now_us,
    )


async def _shortened(
    store: Store, connection: AsyncConnection, event: EventRow, by_us: int, now_us: int
) -> EventRow | None:
    """The event cut `by_us` shorter at a segment boundary, or None when nothing is left."""
    asset = await store.index((event.asset_id, event.asset_version), connection)
    end, kept = shortened_program(
        asset,
        event.first_segment,
        event.end_segment,
        core_breaks(event.breaks),
        event.start_us,
        by_us,
    )
    if end == event.first_segment:
        return None
    prefix = asset.prefix_us
    return replace(
        event,
        end_segment=end,
        duration_us=prefix[end] - prefix[event.first_segment] + breaks_us(kept),
        clip_out_us=prefix[end],
        breaks=breaks_json(kept, asset, event.first_segment),
        updated_us=now_us,
    )


async def write_events(store: Store, write: EventWrite) -> list[EventRow]:
    """Create events (or change one) in one transaction. Overlaps are refused with Conflict
    unless `replace`; so are edits that reach before the lock horizon."""
    async with store.write() as connection:
        channel = await channel_rows.get(connection, write.channel_id)
        reach = edit_reach_us(core_channel(channel))
        touched: list[int] = []
        moved_from: list[int] = []
        if write.updating is not None:
            old = await event_rows.get(connection, write.channel_id, write.updating)
            touched.append(old.start_us)
            moved_from.append(old.start_us)
        placed = [await _place(store, connection, channel, s, write.now_us) for s in write.specs]
        spans = [Span(p.id, p.start_us, p.duration_us) for p in placed]
        check_no_overlap_within(spans)
        touched += [span.start_us for span in spans]
        check_lock_horizon(touched, write.now_us, write.margin_us, reach)
        start, end = min(s.start_us for s in spans), max(s.end_us for s in spans)
        met = await event_rows.meeting(
            connection, write.channel_id, start, end, write.updating or ""
        )
        existing = {event.id: event for event in met}
        resolution = resolve_overlaps(
            spans,
            [Span(e.id, e.start_us, e.duration_us, e.rule_id is not None) for e in met],
            write.replace,
        )
        deleted = list(resolution.deleted)
        shortened: list[EventRow] = []
        for event_id, by_us in resolution.shortened:
            cut = await _shortened(store, connection, existing[event_id], by_us, write.now_us)
            if cut is None:
                deleted.append(event_id)
            else:
                touched.append(cut.end_us)
                shortened.append(cut)
        touched += [existing[i].start_us for i in deleted]
        check_lock_horizon(touched, write.now_us, write.margin_us, reach)
        # the blocks changed: the placed ones, the deleted and shortened ones, the one moved
        starts = [event.start_us for event in (*placed, *shortened)]
        starts += [existing[i].start_us for i in deleted] + moved_from
        await _commit(connection, write, deleted, shortened, placed, min(starts))
        return [await event_rows.get(connection, write.channel_id, p.id) for p in placed]


async def _commit(
    connection: AsyncConnection,
    write: EventWrite,
    deleted: list[str],
    shortened: list[EventRow],
    placed: list[EventRow],
    reach_us: int,
) -> None:
    await event_rows.delete(connection, deleted)
    for event in shortened:
        await event_rows.save(connection, event)
    for event in placed:
        if write.updating is not None:
            await event_rows.save(connection, replace(event, id=write.updating))
        else:
            await event_rows.insert(connection, event)
    await channel_rows.record_change(connection, write.channel_id, write.now_us, reach_us=reach_us)


async def delete_event(
    store: Store, channel_id: str, event_id: str, *, now_us: int, margin_us: int
) -> None:
    """Delete an event that starts after the lock horizon."""
    async with store.write() as connection:
        channel = await channel_rows.get(connection, channel_id)
        event = await event_rows.get(connection, channel_id, event_id)
        reach = edit_reach_us(core_channel(channel))
        check_lock_horizon([event.start_us], now_us, margin_us, reach, "id")
        await event_rows.delete(connection, [event_id])
        await channel_rows.record_change(connection, channel_id, now_us, reach_us=event.start_us)


async def event_spec(store: Store, channel_id: str, event_id: str) -> EventSpec:
    """An event as stored, in the form a write takes (exact microseconds)."""
    event = await get(store, channel_id, event_id)
    return EventSpec(
        id=event.id,
        asset_id=event.asset_id,
        version=event.asset_version,
        start_us=event.start_us,
        clip_in_us=event.clip_in_us,
        clip_out_us=event.clip_out_us,
        title=event.title or None,
        breaks=tuple((b["offset_us"], b["duration_us"]) for b in event.breaks),
    )


async def get(store: Store, channel_id: str, event_id: str) -> EventRow:
    async with store.read() as connection:
        await channel_rows.get(connection, channel_id)
        return await event_rows.get(connection, channel_id, event_id)


async def overlapping(
    store: Store, channel_id: str, start_us: int, end_us: int, limit: int
) -> list[EventRow]:
    """Events of a channel that overlap [start_us, end_us), by start."""
    async with store.read() as connection:
        await channel_rows.get(connection, channel_id)
        return await event_rows.overlapping(connection, channel_id, start_us, end_us, limit)
