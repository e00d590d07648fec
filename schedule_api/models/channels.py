"""Channel bodies."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from engine.plan_format import AdMarkersModel, ProfileEntryModel, TrackSpecModel
from schedule_api.models.common import Body, HttpUrl, Line, Slug, TimeZone


class BreakRuleModel(Body):
    """Ad breaks every event written from now on gets (unless it states its own)."""

    duration_seconds: float = Field(gt=0, le=3600, description="length of each break")
    every_minutes: float | None = Field(
        default=None,
        ge=1,
        le=1440,
        description="a break every so many minutes of program, at the nearest segment boundary",
    )
    after_programs: bool = Field(default=False, description="a break at the end of every program")

    @model_validator(mode="after")
    def _some_break(self) -> Self:
        if self.every_minutes is None and not self.after_programs:
            raise ValueError("give every_minutes, after_programs or both")
        return self


Tracks = Annotated[list[TrackSpecModel], Field(max_length=16)]
"""A channel's audio or subtitle tracks; engine.model.Channel checks names, languages and
the default (the same check for plan files, creation and changes)."""


class ChannelCreate(Body):
    id: Slug
    name: Line = Field(min_length=1, max_length=200)
    slate: Slug = Field(description="asset id of the slate that fills gaps (fixed for life)")
    target_duration: int | None = Field(
        default=None,
        ge=1,
        le=60,
        description="EXT-X-TARGETDURATION in seconds, fixed for life; default: from the slate",
    )
    window_seconds: float = Field(default=30, ge=30, le=3600)
    time_zone: TimeZone = "UTC"
    artwork_url: HttpUrl | None = None
    group: Line = Field(
        default="", max_length=100, description="M3U group-title, e.g. News; empty: none"
    )
    max_shift_seconds: int = Field(
        default=86_400, ge=0, le=7 * 86_400, description="how far back time-shift may reach"
    )
    profile: list[ProfileEntryModel] | None = Field(
        default=None, min_length=1, max_length=12, description="default: the slate's renditions"
    )
    ad_markers: AdMarkersModel = Field(
        default=AdMarkersModel(),
        description="SCTE-35 command of the DATERANGE markers (fixed for life) and CUE tags",
    )
    break_rule: BreakRuleModel | None = None
    audio_tracks: Tracks = Field(
        default_factory=list,
        description="demuxed audio tracks by language; then every asset needs demuxed audio",
    )
    subtitle_tracks: Tracks = Field(default_factory=list)
    subtitle_target_duration: int = Field(
        default=6, ge=1, le=60, description="subtitle playlists' target duration (fixed for life)"
    )


class ChannelUpdate(Body):
    """Fields that may change; target_duration and slate may not (the past is immutable)."""

    name: Line | None = Field(default=None, min_length=1, max_length=200)
    window_seconds: float | None = Field(default=None, ge=30, le=3600)
    time_zone: TimeZone | None = None
    artwork_url: HttpUrl | None = None
    group: Line | None = Field(default=None, max_length=100)
    max_shift_seconds: int | None = Field(default=None, ge=0, le=7 * 86_400)
    ad_markers: AdMarkersModel | None = Field(
        default=None, description="cue_tags may change; splice_command may not"
    )
    break_rule: BreakRuleModel | None = Field(
        default=None, description="applies to events written after the change; null: none"
    )
    audio_tracks: Tracks | None = Field(
        default=None, description="may change, but not between none and some"
    )
    subtitle_tracks: Tracks | None = None


class Channel(BaseModel):
    id: str
    name: str
    slate: str
    slate_version: int = Field(description="the slate's asset version, pinned at creation")
    target_duration: int
    window_seconds: float
    time_zone: str
    artwork_url: str | None
    group: str
    max_shift_seconds: int
    xmltv_id: str = Field(description="the channel's id in XMLTV guides and M3U tvg-id")
    profile: list[ProfileEntryModel]
    ad_markers: AdMarkersModel
    break_rule: BreakRuleModel | None
    audio_tracks: list[TrackSpecModel]
    subtitle_tracks: list[TrackSpecModel]
    subtitle_target_duration: int
    playback_path: str = Field(description="the engine path that plays this channel")
    created: str
    created_ms: int
    updated: str
    updated_ms: int


class ChannelList(BaseModel):
    items: list[Channel]
