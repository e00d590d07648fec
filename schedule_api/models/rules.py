"""Rule bodies."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, model_validator

from schedule_api.models.common import Body, Instant, Slug, Tag

Weekday = Annotated[str, Field(pattern=r"^(mon|tue|wed|thu|fri|sat|sun)$")]


class Collection(Body):
    """Assets to play: a list (in this order), or every asset with a tag (by episode, then
    id)."""

    assets: list[Slug] | None = Field(default=None, min_length=1, max_length=1000)
    tag: Tag | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.assets is None) == (self.tag is None):
            raise ValueError("give assets or tag, not both")
        return self


class SlotSpec(Body):
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


class RuleCreate(Body):
    id: Slug | None = Field(default=None, description="default: generated")
    kind: Literal["loop", "shuffle", "slots"]
    start: Instant | None = Field(
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
