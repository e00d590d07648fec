"""Event and schedule bodies."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator

from common.instants import LATEST_US
from schedule_api.models.common import Body, Instant, Slug, Text

MAX_EVENT_MS = LATEST_US // 1000 - 1
"""The latest scheduled start in Unix milliseconds (common/instants.py)."""


class BreakRequest(Body):
    offset_seconds: float = Field(
        ge=0, le=10**7, description="into the clip; moved to the nearest allowed segment boundary"
    )
    duration_seconds: float = Field(gt=0, le=3600)


class EventBreak(BaseModel):
    offset_seconds: float = Field(description="into the clip, at a segment boundary")
    duration_seconds: float
    at_segment: int = Field(description="the asset segment the program resumes with")


class EventFields(Body):
    start: Instant | None = Field(
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
    title: Text | None = Field(
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


class EventCreate(EventFields):
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


class EventBatch(Body):
    events: list[EventCreate] = Field(min_length=1, max_length=1000)
    replace: bool = Field(
        default=False,
        description="remove (or shorten) the events they overlap instead of refusing with 409",
    )


class EventUpdate(EventFields):
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
