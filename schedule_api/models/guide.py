"""Guide, as-run and service bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field


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


class Health(BaseModel):
    status: str
    database: str


class ServiceInfo(BaseModel):
    """What a client needs to know about this service (the console reads it first)."""

    now: str = Field(description="the service's clock")
    now_ms: int
    lock_margin_seconds: int = Field(
        description="schedule edits that start before now + this margin are refused (409)"
    )
    playback_base_url: str = Field(
        description="where players reach the engines: a channel plays at this URL followed "
        "by its playback_path"
    )
    reads_need_key: bool = Field(description="reads need the API key too (API_KEY_READS)")
    writes_need_key: bool
