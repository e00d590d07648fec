"""Channels, without I/O: the one place a stored channel becomes the engine's core Channel,
and what may air on it.

The core Channel (engine/model.py) checks the configuration (window, tracks, languages,
defaults) for plan files, creation and changes alike; `core_channel` builds it from the
stored row, so a channel is validated by building the row it would be stored as.
"""

from __future__ import annotations

from collections.abc import Sequence

from common.errors import Invalid
from common.instants import US_PER_S
from engine.errors import PlanError
from engine.model import AssetIndex, Break, Channel, describe, rounded_seconds
from engine.plan_format import AdMarkersModel, ProfileEntryModel, TrackSpecModel
from engine.profile import map_renditions
from engine.timeline import track_mismatch
from schedule_api.domain.events import BreakRule
from schedule_api.store.rows import ChannelRow

REQUEST_FIELDS = {
    "window": "window_seconds",
    "audio_tracks": "audio_tracks",
    "subtitle_tracks": "subtitle_tracks",
    "subtitle_target_duration": "subtitle_target_duration",
}
"""The request field that sets each part of the core Channel (the rest comes from the
profile)."""


def xmltv_id(channel_id: str) -> str:
    """The channel's id in XMLTV and M3U (tvg-id): XMLTV ids look like domain names."""
    return f"{channel_id}.vchannel"


def playback_path(channel_id: str) -> str:
    """The engine's path of the channel's multivariant playlist."""
    return f"/live/master.m3u8?channel={channel_id}"


def core_channel(row: ChannelRow) -> Channel:
    """The engine's Channel of a stored channel (PlanError when it is not valid)."""
    return Channel(
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


def request_field(error: PlanError) -> str:
    """The request field a core Channel error is about."""
    return REQUEST_FIELDS.get(error.field.split(".")[0], "profile")


def break_rule(row: ChannelRow) -> BreakRule | None:
    """The channel's ad break rule in microseconds (None: it has none)."""
    if row.break_rule is None:
        return None
    every = row.break_rule.get("every_minutes")
    return BreakRule(
        duration_us=round(row.break_rule["duration_seconds"] * US_PER_S),
        every_us=None if every is None else round(every * 60 * US_PER_S),
        after_programs=bool(row.break_rule.get("after_programs", False)),
    )


def check_airable(channel: Channel, slate: AssetIndex, asset: AssetIndex, field: str) -> None:
    """Invalid naming `field` unless the asset version can air on the channel: the slate's
    segment format, segments within the target duration, renditions for every profile
    entry, the channel's tracks."""
    what = describe(asset.key)
    if asset.container != slate.container:
        raise Invalid(
            field,
            f"{what} is {asset.container.value} but the channel plays "
            f"{slate.container.value}: a channel keeps one segment format",
        )
    longest = asset.max_segment_us()
    if rounded_seconds(longest) > channel.target_duration_s:
        raise Invalid(
            field,
            f"{what} has a {longest / 1e6:.3f} s segment, longer than the channel's "
            f"target duration of {channel.target_duration_s} s",
        )
    try:
        map_renditions(channel.profile, asset)
    except PlanError as error:
        raise Invalid(field, f"{what}: {error.reason}") from None
    reason = track_mismatch(channel, asset)
    if reason is not None:
        raise Invalid(field, f"{what} {reason}")


def max_rounded_segment(asset: AssetIndex) -> int:
    """The asset's longest segment in whole seconds, rounded as EXT-X-TARGETDURATION is."""
    return rounded_seconds(asset.max_segment_us())


def breaks_json(breaks: Sequence[Break], asset: AssetIndex, first: int) -> list[dict[str, int]]:
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


def core_breaks(stored: Sequence[dict[str, int]]) -> tuple[Break, ...]:
    """Stored breaks as the core's."""
    return tuple(Break(b["at_segment"], b["duration_us"]) for b in stored)
