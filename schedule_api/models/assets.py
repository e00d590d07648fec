"""Asset and bulk ingest bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from schedule_api.models.common import Body, HttpUrl, Slug, Tag, Text


class AssetCreate(Body):
    id: Slug | None = Field(default=None, description="default: made from the title and URL")
    url: HttpUrl = Field(description="HLS VOD: a multivariant or a media playlist")
    title: Text = Field(min_length=1, max_length=300)
    description: Text = Field(default="", max_length=5000)
    genre: Text = Field(default="", max_length=100)
    episode: Text = Field(default="", max_length=100)
    rating: Text = Field(default="", max_length=50)
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


class IngestItem(BaseModel):
    url: str
    title: str
    id: str
    state: str = Field(description="queued, running, done, failed or interrupted")
    version: int | None = None
    error: str | None = None


class IngestJobCreate(Body):
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


class AssetUpdate(Body):
    """Guide metadata to change on every version of an asset. The title is part of the
    version engines cache: change it by re-ingesting, or per event with a title override."""

    description: Text | None = Field(default=None, max_length=5000)
    genre: Text | None = Field(default=None, max_length=100)
    episode: Text | None = Field(default=None, max_length=100)
    rating: Text | None = Field(default=None, max_length=50)
    artwork_url: HttpUrl | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)


# --- rules --------------------------------------------------------------------------------
