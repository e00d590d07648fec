"""Rules: stored specs that materialise into events ahead of time (schedule_api/domain/rules.py
decides what goes where; this module reads the collections, the busy times and writes the
result with the rule's cursor, in one transaction)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import Invalid, NotFound
from engine.model import AssetIndex
from engine.timeline import edit_reach_us
from schedule_api.domain import rules
from schedule_api.domain.channels import break_rule, breaks_json, core_channel
from schedule_api.service.plans import Timelines
from schedule_api.service.scheduling import airable_asset, new_event_id
from schedule_api.store import Store
from schedule_api.store import assets as asset_rows
from schedule_api.store import channels as channel_rows
from schedule_api.store import events as event_rows
from schedule_api.store import rules as rule_rows
from schedule_api.store.rows import ChannelRow, EventRow, RuleRow

log = logging.getLogger("vchannel.schedule")
MATERIALISE_STEP_US = 3600 * 1_000_000
"""How much schedule one rule materialisation transaction fills (at most 180 events of
20 s items): the write lock is held for milliseconds, not minutes."""


@dataclass(frozen=True, slots=True)
class RuleRequest:
    """A rule as a request gives it: kind, spec (as stored) and the start asked for."""

    kind: str
    spec: dict[str, Any]
    start_us: int | None


async def _collection(
    store: Store,
    connection: AsyncConnection,
    channel: ChannelRow,
    spec: dict[str, Any],
    field: str,
    strict: bool,
) -> tuple[AssetIndex, ...]:
    """The latest version of each asset of a collection that can air on the channel.

    strict (writing a rule): a missing or unfit asset, or a tag nobody has, is Invalid naming
    the field. Otherwise (materialising later) such assets are left out."""
    core = core_channel(channel)
    found: list[AssetIndex] = []
    if spec.get("assets"):
        for i, asset_id in enumerate(spec["assets"]):
            version = await asset_rows.latest_version(connection, asset_id)
            if version is None:
                if strict:
                    raise Invalid(f"{field}.assets.{i}", f"asset {asset_id!r} does not exist")
                continue
            try:
                key = (asset_id, version)
                found.append(
                    await airable_asset(store, connection, core, key, f"{field}.assets.{i}")
                )
            except Invalid:
                if strict:
                    raise
        return tuple(found)
    tag = spec["tag"]
    for asset_id, version, tags in await asset_rows.latest_with_tags(connection):
        if tag not in tags:
            continue
        try:
            key = (asset_id, version)
            found.append(await airable_asset(store, connection, core, key, f"{field}.tag"))
        except Invalid:
            continue  # one unfit episode should not stop the others
    if strict and not found:
        raise Invalid(f"{field}.tag", f"no asset that can air on this channel has tag {tag!r}")
    return tuple(found)


async def _core_rule(
    store: Store,
    connection: AsyncConnection,
    channel: ChannelRow,
    rule_id: str,
    request: RuleRequest,
    start_us: int,
    strict: bool,
) -> rules.Rule:
    spec = request.spec
    if request.kind != rules.RuleKind.SLOTS:
        return rules.Rule(
            id=rule_id,
            kind=rules.RuleKind(request.kind),
            start_us=start_us,
            items=await _collection(store, connection, channel, spec["play"], "play", strict),
            seed=int(spec.get("seed") or 0),
            breaks=break_rule(channel),
        )
    slots = []
    for i, slot in enumerate(spec["slots"]):
        play = slot["play"]
        items = await _collection(store, connection, channel, play, f"slots.{i}.play", strict)
        weekdays = frozenset(rules.WEEKDAYS.index(d) for d in slot["days"])
        slots.append(rules.GridSlot(time.fromisoformat(slot["at"]), weekdays, items))
    filler: tuple[AssetIndex, ...] = ()
    if spec.get("filler"):
        filler = await _collection(store, connection, channel, spec["filler"], "filler", strict)
    return rules.Rule(
        id=rule_id,
        kind=rules.RuleKind.SLOTS,
        start_us=start_us,
        slots=tuple(slots),
        filler=filler,
        time_zone=channel.time_zone,
        breaks=break_rule(channel),
    )


async def rule_start(
    timelines: Timelines, channel_id: str, start_us: int | None, earliest_us: int
) -> int:
    """Where a rule starts filling: the instant asked for, but never before the earliest
    editable instant. By default the first segment boundary of the channel's current
    timeline at or after that instant, so the rule's first item cuts no segment of what
    airs before it."""
    timeline = await timelines.of(channel_id)
    earliest = earliest_us + edit_reach_us(timeline.plan.channel)
    if start_us is not None:
        return max(start_us, earliest)
    slot = timeline.slot(timeline.media_sequence_at(earliest))
    return slot.start_us if slot.start_us >= earliest else slot.end_us


async def create(
    store: Store,
    timelines: Timelines,
    channel_id: str,
    rule_id: str,
    request: RuleRequest,
    *,
    now_us: int,
    margin_us: int,
) -> None:
    """Store a rule (its collections are checked now); materialise it separately."""
    start = await rule_start(timelines, channel_id, request.start_us, now_us + margin_us)
    async with store.write() as connection:
        channel = await channel_rows.get(connection, channel_id)
        await _core_rule(store, connection, channel, rule_id, request, start, True)
        rule = RuleRow(
            id=rule_id,
            channel_id=channel_id,
            kind=request.kind,
            spec=request.spec,
            state=rules.Cursor(start).to_json(),
            start_us=start,
            materialised_us=None,
            created_us=now_us,
            updated_us=now_us,
        )
        await rule_rows.insert(connection, rule)


async def preview(
    store: Store,
    timelines: Timelines,
    channel_id: str,
    request: RuleRequest,
    *,
    now_us: int,
    margin_us: int,
    horizon_us: int,
) -> tuple[rules.Placement, ...]:
    """The events a rule would create now, written nowhere."""
    start = await rule_start(timelines, channel_id, request.start_us, now_us + margin_us)
    async with store.read() as connection:
        channel = await channel_rows.get(connection, channel_id)
        earliest = now_us + margin_us + edit_reach_us(core_channel(channel))
        rule = await _core_rule(store, connection, channel, "preview", request, start, True)
        busy = await event_rows.busy(connection, channel_id, earliest, now_us + horizon_us)
    return rules.materialise(
        rule, rules.Cursor(start), busy, earliest, now_us + horizon_us
    ).placements


async def get(store: Store, channel_id: str, rule_id: str) -> RuleRow:
    async with store.read() as connection:
        await channel_rows.get(connection, channel_id)
        return await rule_rows.get(connection, channel_id, rule_id)


async def of_channel(store: Store, channel_id: str) -> list[RuleRow]:
    async with store.read() as connection:
        await channel_rows.get(connection, channel_id)
        return await rule_rows.of_channel(connection, channel_id)


async def delete(
    store: Store, channel_id: str, rule_id: str, *, keep_events: bool, now_us: int, margin_us: int
) -> int:
    """Delete a rule and (unless keep_events) its events that start after the earliest
    editable instant; returns how many events went."""
    async with store.write() as connection:
        channel = await channel_rows.get(connection, channel_id)
        await rule_rows.get(connection, channel_id, rule_id)
        earliest = now_us + margin_us + edit_reach_us(core_channel(channel))
        removed = (
            0 if keep_events else await event_rows.delete_of_rule(connection, rule_id, earliest)
        )
        await rule_rows.delete(connection, rule_id)
        if removed:
            await channel_rows.record_change(connection, channel_id, now_us, reach_us=earliest)
    return removed


async def materialise(
    store: Store, channel_id: str, rule_id: str, *, now_us: int, margin_us: int
) -> tuple[rules.Placement, ...]:
    """Fill the schedule from the rule up to its horizon, once, in steps of at most
    MATERIALISE_STEP_US of schedule: each step writes its events and the rule's cursor in one
    serialised transaction, so other writes interleave with a long fill instead of waiting
    for it (a 720-hour loop of 20 s items is 129,600 events). Occurrence keys are unique per
    rule: another process materialising at the same moment makes one of the two transactions
    fail (unique key, or SQLite's stale snapshot); it is retried and then finds the work
    done."""
    placed: list[rules.Placement] = []
    while True:
        step, done = await _step(store, channel_id, rule_id, now_us, margin_us)
        placed.extend(step)
        if done:
            return tuple(placed)


async def _step(
    store: Store, channel_id: str, rule_id: str, now_us: int, margin_us: int
) -> tuple[tuple[rules.Placement, ...], bool]:
    for attempt in range(5):
        try:
            async with store.write() as connection:
                return await _materialise(store, connection, channel_id, rule_id, now_us, margin_us)
        except (IntegrityError, OperationalError):
            if attempt == 4:
                raise
            await asyncio.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


async def _materialise(
    store: Store,
    connection: AsyncConnection,
    channel_id: str,
    rule_id: str,
    now_us: int,
    margin_us: int,
) -> tuple[tuple[rules.Placement, ...], bool]:
    """One step: (what it placed, whether the rule is filled to its horizon)."""
    channel = await channel_rows.get(connection, channel_id)
    row = await rule_rows.get(connection, channel_id, rule_id)
    cursor = rules.Cursor.from_json(row.state)
    earliest = now_us + margin_us + edit_reach_us(core_channel(channel))
    horizon = now_us + round(row.spec["horizon_hours"] * 3600 * 1_000_000)
    begin = max(cursor.next_us, earliest)
    if begin >= horizon:
        return (), True
    until = min(horizon, begin + MATERIALISE_STEP_US)
    request = RuleRequest(row.kind, row.spec, row.start_us)
    rule = await _core_rule(store, connection, channel, row.id, request, row.start_us, False)
    busy = await event_rows.busy(connection, channel_id, max(begin, earliest), until)

    def place() -> tuple[rules.Result, list[tuple[Any, ...]]]:
        result = rules.materialise(rule, cursor, busy, earliest, until)
        events = [_rule_event(channel_id, rule_id, p, now_us) for p in result.placements]
        return result, [event_rows.insert_parameters(event) for event in events]

    # hundreds of items per step for short ones: placed off the event loop
    result, events = await asyncio.to_thread(place)
    await event_rows.insert_many(connection, events)
    await rule_rows.advance(connection, rule_id, result.cursor.to_json(), now_us)
    if result.placements:
        reach = min(placement.start_us for placement in result.placements)
        await channel_rows.record_change(connection, channel_id, now_us, reach_us=reach)
    return result.placements, until >= horizon


def _rule_event(channel_id: str, rule_id: str, placement: rules.Placement, now_us: int) -> EventRow:
    asset = placement.asset
    return EventRow(
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
        breaks=breaks_json(placement.breaks, asset, 0),
        rule_id=rule_id,
        occurrence=placement.occurrence,
        created_us=now_us,
        updated_us=now_us,
    )


async def materialise_all(store: Store, *, now_us: int, margin_us: int) -> tuple[int, int, int]:
    """Top up every rule (the scheduler job); one failing rule does not stop the others.
    Returns (events created, rules run, rules failed)."""
    async with store.read() as connection:
        ids = await rule_rows.all_ids(connection)
    created = ran = failed = 0
    for channel_id, rule_id in ids:
        try:
            placed = await materialise(
                store, channel_id, rule_id, now_us=now_us, margin_us=margin_us
            )
        except NotFound:
            continue  # deleted meanwhile
        except Exception:
            log.exception("rule %s of channel %s failed to materialise", rule_id, channel_id)
            failed += 1
            continue
        ran += 1
        created += len(placed)
    return created, ran, failed
