"""Channels: create, change, delete. A channel is checked by building the core Channel of the
row it would be stored as (schedule_api/domain/channels.py), the same check plan files get."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from common.errors import Invalid
from common.instants import US_PER_S
from engine.errors import PlanError
from engine.plan_format import AdMarkersModel, ProfileEntryModel
from engine.profile import map_renditions, profile_of
from engine.timeline import track_mismatch
from schedule_api import models
from schedule_api.domain.channels import core_channel, max_rounded_segment, request_field
from schedule_api.domain.horizon import horizon_offset_us
from schedule_api.store import Store
from schedule_api.store import assets as asset_rows
from schedule_api.store import channels as channel_rows
from schedule_api.store.rows import ChannelRow

NOT_NULL = (
    "name",
    "window_seconds",
    "time_zone",
    "group",
    "max_shift_seconds",
    "ad_markers",
    "audio_tracks",
    "subtitle_tracks",
)
"""Fields of a change that may be left out but not set to null."""


async def get(store: Store, channel_id: str) -> ChannelRow:
    async with store.read() as connection:
        return await channel_rows.get(connection, channel_id)


async def every(store: Store) -> list[ChannelRow]:
    async with store.read() as connection:
        return await channel_rows.every(connection)


async def create(store: Store, body: models.ChannelCreate, now_us: int) -> ChannelRow:
    """Store a new channel: its slate exists, its target duration holds the slate's segments,
    its profile maps to the slate's renditions and its tracks to the slate's."""
    async with store.read() as connection:
        version = await asset_rows.latest_version(connection, body.slate)
    if version is None:
        raise Invalid("slate", f"asset {body.slate!r} does not exist")
    slate = await store.index((body.slate, version))
    longest = max_rounded_segment(slate)
    target = body.target_duration or max(longest, 1)
    if target < longest:
        raise Invalid(
            "target_duration", f"the slate has a segment of about {longest} s; use at least that"
        )
    row = ChannelRow(
        id=body.id,
        name=body.name,
        target_duration=target,
        window_ms=round(body.window_seconds * US_PER_S) // 1000,
        slate_asset_id=body.slate,
        slate_version=slate.version,
        time_zone=body.time_zone,
        artwork_url=body.artwork_url,
        profile=[],
        group_title=body.group,
        checkpoint_us=now_us // US_PER_S * US_PER_S,
        max_shift_seconds=body.max_shift_seconds,
        ad_markers=body.ad_markers.model_dump(),
        break_rule=None if body.break_rule is None else body.break_rule.model_dump(),
        audio_tracks=[t.model_dump() for t in body.audio_tracks],
        subtitle_tracks=[t.model_dump() for t in body.subtitle_tracks],
        subtitle_target_duration=body.subtitle_target_duration,
        created_us=now_us,
        updated_us=now_us,
        horizon_offset_us=horizon_offset_us(body.id),
    )
    try:
        if body.profile is not None:
            profile = tuple(p.to_core() for p in body.profile)
        else:
            profile = profile_of(slate)
        row = replace(row, profile=[ProfileEntryModel.from_core(e).model_dump() for e in profile])
        core = core_channel(row)
        map_renditions(core.profile, slate)
    except PlanError as error:
        raise Invalid(request_field(error), error.reason) from None
    mismatch = track_mismatch(core, slate)
    if mismatch is not None:
        raise Invalid("audio_tracks", f"the slate {mismatch}")
    async with store.write() as connection:
        await channel_rows.insert(connection, row)
        await channel_rows.record_change(connection, row.id, now_us, reach_us=None)
    return row


def _changes(current: ChannelRow, body: models.ChannelUpdate) -> dict[str, Any]:
    """The columns a change sets, checked against the channel as it is."""
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None and name in NOT_NULL:
            raise Invalid(name, "may not be null")
        if name == "window_seconds":
            if value < 3 * current.target_duration:
                raise Invalid("window_seconds", "must be at least three target durations")
            changes["window_ms"] = round(value * 1000)
        elif name == "group":
            changes["group_title"] = value
        elif name == "ad_markers":
            kept = AdMarkersModel.model_validate(current.ad_markers).splice_command
            if value.splice_command != kept:
                raise Invalid(
                    "ad_markers.splice_command",
                    "is fixed for the channel's life: breaks already announced would change "
                    "their SCTE35 attributes (RFC 8216 4.3.2.7)",
                )
            changes[name] = value.model_dump()
        elif name == "audio_tracks":
            if bool(value) != bool(current.audio_tracks):
                raise Invalid(
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
    return changes


async def update(
    store: Store, channel_id: str, body: models.ChannelUpdate, now_us: int
) -> ChannelRow:
    """Change a channel; target duration and slate are fixed for its life."""
    current = await get(store, channel_id)
    changes = _changes(current, body)
    if not changes:
        return current
    changed = replace(current, **changes, updated_us=now_us)
    if "audio_tracks" in changes or "subtitle_tracks" in changes:
        try:
            core_channel(changed)
        except PlanError as error:
            field = error.field.split(".")[0]
            if field not in body.model_fields_set:  # a clash with a kept track: name the change
                field = "audio_tracks" if "audio_tracks" in changes else "subtitle_tracks"
            raise Invalid(field, error.reason) from None
    async with store.write() as connection:
        await channel_rows.change(connection, channel_id, {**changes, "updated_us": now_us})
        await channel_rows.record_change(connection, channel_id, now_us, reach_us=None)
        return await channel_rows.get(connection, channel_id)


async def delete(store: Store, channel_id: str, now_us: int) -> None:
    async with store.write() as connection:
        await channel_rows.delete(connection, channel_id)
        await channel_rows.record_change(
            connection, channel_id, now_us, reach_us=None, deleted=True
        )


async def require(store: Store, channel_id: str) -> None:
    """NotFound unless the channel exists."""
    async with store.read() as connection:
        await channel_rows.get(connection, channel_id)
