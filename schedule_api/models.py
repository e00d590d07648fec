"""Request and response bodies (pydantic, at the HTTP boundary only).

Times are given as RFC 3339 UTC strings and, where Consuo clients expect them, as Unix
milliseconds (`*_ms`).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from engine.plan_format import (
    AdMarkersModel,
    AssetIndexModel,
    PlanModel,
    ProfileEntryModel,
    TrackSpecModel,
)

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", examples=["news-24"])]
Resolution = Annotated[
    str, Field(pattern=r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$", examples=["1280x720"])
]
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+\S*$", max_length=2048)]
_ZONES = available_timezones()


def _zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError("not an IANA time zone, e.g. Europe/Stockholm")
    ZoneInfo(value)
    return value


TimeZone = Annotated[str, AfterValidator(_zone), Field(examples=["Europe/Stockholm"])]
Tag = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", examples=["kids"])]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BreakRuleModel(_Body):
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


class ChannelCreate(_Body):
    id: Slug
    name: str = Field(min_length=1, max_length=200)
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
    group: str = Field(
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


class ChannelUpdate(_Body):
    """Fields that may change; target_duration and slate may not (the past is immutable)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    window_seconds: float | None = Field(default=None, ge=30, le=3600)
    time_zone: TimeZone | None = None
    artwork_url: HttpUrl | None = None
    group: str | None = Field(default=None, max_length=100)
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


class AssetCreate(_Body):
    id: Slug | None = Field(default=None, description="default: made from the title and URL")
    url: HttpUrl = Field(description="HLS VOD: a multivariant or a media playlist")
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=5000)
    genre: str = Field(default="", max_length=100)
    episode: str = Field(default="", max_length=100)
    rating: str = Field(default="", max_length=50)
    artwork_url: HttpUrl | None = None
    tags: list[Tag] = Field(
        default_factory=list, max_length=50, description="collections rules can play"
    )


class RenditionSummary(BaseModel):
    name: str
    type: Literal["VIDEO", "AUDIO", "SUBTITLES"] = Field(
        default="VIDEO", description="a variant, or a demuxed audio or subtitle track"
    )
    bandwidth: int
    codecs: str | None
    resolution: str | None
    segments: int
    language: str | None = Field(default=None, description="audio and subtitle tracks")
    label: str | None = Field(default=None, description="EXT-X-MEDIA NAME of a track")
    default: bool | None = Field(default=None, description="EXT-X-MEDIA DEFAULT of a track")


class Asset(BaseModel):
    id: str
    version: int
    versions: list[int]
    url: str
    title: str
    description: str
    genre: str
    episode: str
    rating: str
    artwork_url: str | None
    tags: list[str]
    container: str
    duration_seconds: float
    duration_ms: int
    max_segment_seconds: float
    renditions: list[RenditionSummary] = Field(
        description="the variants, then the demuxed audio and subtitle tracks"
    )
    ingested: str
    ingested_ms: int


class AssetPage(BaseModel):
    items: list[Asset]
    total: int
    limit: int
    offset: int


class Health(BaseModel):
    status: str
    database: str


MAX_EVENT_MS = 10**13  # Unix milliseconds below year 2286


class BreakRequest(_Body):
    offset_seconds: float = Field(
        ge=0, le=10**7, description="into the clip; moved to the nearest allowed segment boundary"
    )
    duration_seconds: float = Field(gt=0, le=3600)


class EventBreak(BaseModel):
    offset_seconds: float = Field(description="into the clip, at a segment boundary")
    duration_seconds: float
    at_segment: int = Field(description="the asset segment the program resumes with")


class _EventFields(_Body):
    start: AwareDatetime | None = Field(
        default=None, description="scheduled start, RFC 3339 (give this or start_ms)"
    )
    start_ms: int | None = Field(
        default=None, ge=0, le=MAX_EVENT_MS, description="scheduled start, Unix milliseconds"
    )
    version: int | None = Field(
        default=None, ge=1, le=1_000_000, description="asset version; default: the latest"
    )
    clip_in_seconds: float | None = Field(
        default=None, ge=0, le=10**7, description="start of the clip (nearest segment boundary)"
    )
    clip_out_seconds: float | None = Field(
        default=None, gt=0, le=10**7, description="end of the clip (nearest segment boundary)"
    )
    title: str | None = Field(
        default=None, max_length=300, description="title override; default: the asset's"
    )
    breaks: list[BreakRequest] | None = Field(
        default=None,
        max_length=100,
        description="ad breaks in order; null: those of the channel's break_rule; []: none",
    )

    @model_validator(mode="after")
    def _one_start(self) -> Self:
        if self.start is not None and self.start_ms is not None:
            raise ValueError("give start or start_ms, not both")
        return self


class EventCreate(_EventFields):
    id: Slug | None = Field(default=None, description="default: generated")
    asset: Slug

    @model_validator(mode="after")
    def _start_given(self) -> Self:
        if self.start is None and self.start_ms is None:
            raise ValueError("start (RFC 3339) or start_ms is required")
        return self


class EventCreateOne(EventCreate):
    replace: bool = Field(
        default=False,
        description="remove (or shorten) the events it overlaps instead of refusing with 409",
    )


class EventBatch(_Body):
    events: list[EventCreate] = Field(min_length=1, max_length=1000)
    replace: bool = Field(
        default=False,
        description="remove (or shorten) the events they overlap instead of refusing with 409",
    )


class EventUpdate(_EventFields):
    """Fields to change; the rest stay. Set clip_in_seconds/clip_out_seconds to null to play
    the whole asset."""

    asset: Slug | None = None
    replace: bool = False


class Event(BaseModel):
    id: str
    channel: str
    asset: str
    version: int
    title: str = Field(description="the override, or the asset's title")
    title_override: str | None
    start: str
    start_ms: int
    end: str = Field(description="nominal end: start plus the clip's exact length and its breaks")
    end_ms: int
    duration_seconds: float = Field(description="the clip and its ad breaks")
    breaks: list[EventBreak]
    clip_in_seconds: float | None
    clip_out_seconds: float | None
    first_segment: int
    end_segment: int
    rule: str | None = Field(description="the rule that made it (null: made by hand)")
    created: str
    updated: str


class EventList(BaseModel):
    items: list[Event]


class ScheduleEntry(BaseModel):
    """A program as it really airs: times are the segment boundaries of the live timeline."""

    id: str = Field(description="the event id")
    channel_id: str
    asset_id: str
    asset_version: int
    title: str
    start_time: int = Field(description="Unix milliseconds")
    end_time: int = Field(description="Unix milliseconds")
    start: str
    end: str
    duration: float = Field(description="seconds")
    scheduled_start: str = Field(description="the event's scheduled start (RFC 3339)")
    scheduled_start_time: int


class Schedule(BaseModel):
    channel_id: str
    start: str
    end: str
    items: list[ScheduleEntry]


class PlanFeed(BaseModel):
    """Plans changed after `since`. Poll with since=revision of the last answer."""

    revision: int = Field(description="the latest revision; pass it as `since` next time")
    plans: list[PlanModel]
    deleted: list[str] = Field(description="ids of channels deleted after `since`")
    next_after: str | None = Field(
        default=None,
        description="more changed channels follow: ask again with the same `since`, "
        "`until=<revision>` and `after=<next_after>`; null on the last page",
    )


class AssetIndexBatch(BaseModel):
    """Asset indexes by (id, version); the versions that do not exist are listed as missing."""

    assets: list[AssetIndexModel]
    missing: list[str] = Field(description="asked-for <asset id>@<version> that do not exist")


class IngestItem(BaseModel):
    url: str
    title: str
    id: str
    state: str = Field(description="queued, running, done, failed or interrupted")
    version: int | None = None
    error: str | None = None


class IngestJobCreate(_Body):
    items: list[AssetCreate] = Field(min_length=1, max_length=500)


class IngestJob(BaseModel):
    id: str
    state: str = Field(description="running, done or interrupted (service restarted)")
    total: int
    done: int
    failed: int
    items: list[IngestItem]
    created: str
    updated: str


class AssetUpdate(_Body):
    """Guide metadata to change on every version of an asset. The title is part of the
    version engines cache: change it by re-ingesting, or per event with a title override."""

    description: str | None = Field(default=None, max_length=5000)
    genre: str | None = Field(default=None, max_length=100)
    episode: str | None = Field(default=None, max_length=100)
    rating: str | None = Field(default=None, max_length=50)
    artwork_url: HttpUrl | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)


# --- rules --------------------------------------------------------------------------------
Weekday = Annotated[str, Field(pattern=r"^(mon|tue|wed|thu|fri|sat|sun)$")]


class Collection(_Body):
    """Assets to play: a list (in this order), or every asset with a tag (by episode, then
    id)."""

    assets: list[Slug] | None = Field(default=None, min_length=1, max_length=1000)
    tag: Tag | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.assets is None) == (self.tag is None):
            raise ValueError("give assets or tag, not both")
        return self


class SlotSpec(_Body):
    at: str = Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        description="local wall-clock time in the channel's time zone, HH:MM or HH:MM:SS",
        examples=["20:00"],
    )
    days: list[Weekday] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        min_length=1,
        max_length=7,
        description="weekdays the slot airs on (default: every day)",
    )
    play: Collection = Field(description="the next episode of this collection airs at the slot")


class RuleCreate(_Body):
    id: Slug | None = Field(default=None, description="default: generated")
    kind: Literal["loop", "shuffle", "slots"]
    start: AwareDatetime | None = Field(
        default=None,
        description="the rule fills from here (default: the earliest editable instant)",
    )
    play: Collection | None = Field(
        default=None, description="loop and shuffle: what to play (loop keeps list order)"
    )
    seed: int | None = Field(
        default=None, ge=0, le=2**31, description="shuffle: order seed (default: random)"
    )
    slots: list[SlotSpec] | None = Field(default=None, min_length=1, max_length=200)
    filler: Collection | None = Field(
        default=None, description="slots: looped between slots (default: the slate)"
    )
    horizon_hours: float = Field(
        default=48, ge=1, le=720, description="how far ahead the rule keeps the schedule filled"
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        if self.kind == "slots":
            if not self.slots:
                raise ValueError("a slots rule needs slots")
            if self.play is not None or self.seed is not None:
                raise ValueError("a slots rule takes slots (and filler), not play or seed")
        else:
            if self.play is None:
                raise ValueError(f"a {self.kind} rule needs play")
            if self.slots is not None or self.filler is not None:
                raise ValueError(f"a {self.kind} rule takes play, not slots or filler")
            if self.kind == "loop" and self.play.tag is not None:
                raise ValueError("a loop plays a list of assets in order; use shuffle for a tag")
            if self.kind == "loop" and self.seed is not None:
                raise ValueError("seed is for shuffle rules")
        return self


class Rule(BaseModel):
    id: str
    channel: str
    kind: str
    start: str
    play: Collection | None
    seed: int | None
    slots: list[SlotSpec] | None
    filler: Collection | None
    horizon_hours: float
    materialised_until: str = Field(description="the rule has filled the schedule up to here")
    items_placed: int = Field(description="loop/shuffle: items placed so far")
    last_run: str | None
    created: str


class RuleList(BaseModel):
    items: list[Rule]


class PlannedEvent(BaseModel):
    asset: str
    version: int
    title: str
    start: str
    start_ms: int
    end: str
    end_ms: int
    duration_seconds: float
    cut: bool = Field(description="cut short at a segment boundary by the next event or slot")
    occurrence: str = Field(description="the rule's key for this item (unique per rule)")


class RuleRun(BaseModel):
    """What one materialisation did (or, for a preview, would do)."""

    rule: Rule | None = Field(description="the rule (null in a preview)")
    created: int = Field(description="events created")
    events: list[PlannedEvent] = Field(description="the events, up to `limit`")


# --- guide --------------------------------------------------------------------------------
class Airing(BaseModel):
    """Something on air: a program (an event), or filler/slate between programs."""

    kind: str = Field(description="program, filler or slate")
    event_id: str | None
    asset_id: str
    asset_version: int
    title: str
    start: str
    start_ms: int
    end: str | None = Field(description="null: filler with no program after it")
    end_ms: int | None


class NowNext(BaseModel):
    channel_id: str
    now: str
    current: Airing
    progress_seconds: float
    progress: float | None = Field(description="0..1 of the current airing (null: open-ended)")
    next: Airing | None


class AsRunEntry(BaseModel):
    kind: str = Field(description="program, filler or slate")
    event_id: str | None
    asset_id: str
    asset_version: int
    title: str
    start: str
    end: str
    start_ms: int
    end_ms: int
    duration_seconds: float
    slate_seconds: float


class AsRunHour(BaseModel):
    start: str
    slate_seconds: float


class AsRun(BaseModel):
    """What aired on a local day, cut to that day and to now."""

    channel_id: str
    date: str
    start: str
    end: str
    items: list[AsRunEntry]
    slate_seconds: float
    hours: list[AsRunHour] = Field(description="slate seconds per clock hour (UTC)")
    max_slate_seconds_per_hour: float
