"""Request and response bodies (pydantic, at the HTTP boundary only).

Times are given as RFC 3339 UTC strings and, where Consuo clients expect them, as Unix
milliseconds (`*_ms`).
"""

from __future__ import annotations

from typing import Annotated, Self
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from engine.plan_format import PlanModel, ProfileEntryModel

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


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    profile: list[ProfileEntryModel] | None = Field(
        default=None, min_length=1, max_length=12, description="default: the slate's renditions"
    )


class ChannelUpdate(_Body):
    """Fields that may change; target_duration and slate may not (the past is immutable)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    window_seconds: float | None = Field(default=None, ge=30, le=3600)
    time_zone: TimeZone | None = None
    artwork_url: HttpUrl | None = None


class Channel(BaseModel):
    id: str
    name: str
    slate: str
    slate_version: int = Field(description="the slate's asset version, pinned at creation")
    target_duration: int
    window_seconds: float
    time_zone: str
    artwork_url: str | None
    profile: list[ProfileEntryModel]
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


class RenditionSummary(BaseModel):
    name: str
    bandwidth: int
    codecs: str | None
    resolution: str | None
    segments: int


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
    container: str
    duration_seconds: float
    duration_ms: int
    max_segment_seconds: float
    renditions: list[RenditionSummary]
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
    end: str = Field(description="nominal end: start plus the clip's exact length")
    end_ms: int
    duration_seconds: float
    clip_in_seconds: float | None
    clip_out_seconds: float | None
    first_segment: int
    end_segment: int
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
