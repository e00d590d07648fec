"""Typed rows: what the store reads and writes, one frozen dataclass per table, its fields
named exactly as the table's columns (schedule_api/store/db.py). JSON columns hold what the
wire models dump (engine/plan_format.py for profile, tracks and ad markers)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, TypeVar

import sqlalchemy as sa

_Row = TypeVar("_Row")


@cache
def _names(kind: Hashable) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))  # type: ignore[arg-type]


def typed(kind: type[_Row], row: sa.Row[Any]) -> _Row:
    """A database row as the dataclass `kind` (columns it does not name are left out)."""
    mapping = row._mapping
    names = _names(kind)  # type: ignore[arg-type]
    return kind(**{name: mapping[name] for name in names if name in mapping})


def values(row: object, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row's columns and values, for an insert or update."""
    return {f.name: getattr(row, f.name) for f in fields(row) if f.name not in leave_out}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ChannelRow:
    id: str
    name: str
    target_duration: int
    """Seconds (EXT-X-TARGETDURATION), fixed for the channel's life."""
    window_ms: int
    slate_asset_id: str
    slate_version: int
    time_zone: str
    artwork_url: str | None
    profile: list[dict[str, Any]]
    group_title: str
    checkpoint_us: int
    max_shift_seconds: int
    ad_markers: dict[str, Any]
    break_rule: dict[str, Any] | None
    audio_tracks: list[dict[str, Any]]
    subtitle_tracks: list[dict[str, Any]]
    subtitle_target_duration: int
    created_us: int
    updated_us: int
    horizon_offset_us: int
    """Where the plan feed's horizon marks fall for this channel (domain/horizon.py)."""
    compact_event_id: str | None = None
    compact_us: int | None = None
    compact_msn: int | None = None
    compact_dsn: int | None = None
    compact_subtitles: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class EventRow:
    id: str
    channel_id: str
    asset_id: str
    asset_version: int
    start_us: int
    duration_us: int
    """The clip and its breaks."""
    first_segment: int
    end_segment: int
    clip_in_us: int | None
    clip_out_us: int | None
    title: str
    """The title override ('' for none)."""
    breaks: list[dict[str, int]]
    """Each {at_segment, duration_us, offset_us (into the clip)}."""
    rule_id: str | None
    occurrence: str | None
    created_us: int
    updated_us: int
    asset_title: str = ""
    """The asset version's title (read with a join; not a column of events)."""

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: str
    channel_id: str
    kind: str
    spec: dict[str, Any]
    state: dict[str, Any]
    start_us: int
    materialised_us: int | None
    created_us: int
    updated_us: int


@dataclass(frozen=True, slots=True)
class AssetRow:
    id: str
    version: int
    url: str
    title: str
    description: str
    genre: str
    episode: str
    rating: str
    artwork_url: str | None
    container: str
    duration_us: int
    max_segment_us: int
    renditions: list[dict[str, Any]]
    tags: list[str]
    ingested_us: int


@dataclass(frozen=True, slots=True)
class JobRow:
    id: str
    state: str
    items: list[dict[str, Any]]
    created_us: int
    updated_us: int
