"""Request and response bodies (pydantic, at the HTTP boundary only).

Times are given as RFC 3339 UTC strings and, where Consuo clients expect them, as Unix
milliseconds (`*_ms`).
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from engine.plan_format import ProfileEntryModel

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
