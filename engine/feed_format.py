"""The plan feed's wire format, defined once: the schedule service writes it (GET /plans,
GET /asset-indexes) and the engine reads it (engine/sync.py); the OpenAPI document is
generated from these models. Plans and asset indexes inside it are engine/plan_format.py's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.instants import from_us, to_us
from engine.changes import PlanChange, check_change
from engine.plan_format import AssetIndexModel, BlockModel, CheckpointModel, PlanModel, Slug


class PlanChangeModel(BaseModel):
    """A channel's plan as a change of the plan held at `since` (engine/changes.py): from
    `from` on, the blocks are `blocks`; the plan starts at `checkpoint`, with `head` as its
    first program when it is compacted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    channel: Slug
    revision: int = Field(ge=0)
    checkpoint: CheckpointModel
    head: BlockModel | None = Field(
        default=None,
        description="the program the plan begins with, at the checkpoint (compacted plans)",
    )
    from_: AwareDatetime = Field(
        alias="from", description="the blocks from this instant on are replaced by `blocks`"
    )
    blocks: list[BlockModel] = Field(
        description="every block starting at or after `from` and before the horizon, by start"
    )

    def to_core(self) -> PlanChange:
        """The change (PlanError: blocks out of order, or a head off the checkpoint)."""
        change = PlanChange(
            channel_id=self.channel,
            revision=self.revision,
            checkpoint=self.checkpoint.to_core(),
            head=None if self.head is None else self.head.to_block({}),
            from_us=to_us(self.from_),
            blocks=tuple(block.to_block({}) for block in self.blocks),
        )
        check_change(change)
        return change

    @classmethod
    def from_core(cls, change: PlanChange) -> PlanChangeModel:
        return cls(
            channel=change.channel_id,
            revision=change.revision,
            checkpoint=CheckpointModel.from_core(change.checkpoint),
            head=None if change.head is None else BlockModel.from_block(change.head),
            from_=from_us(change.from_us),
            blocks=[BlockModel.from_block(block) for block in change.blocks],
        )


class PlanFeed(BaseModel):
    """Plans changed after `since`. Poll with since=revision and held_ms=horizon_ms of the
    last answer."""

    revision: int = Field(description="the latest revision; pass it as `since` next time")
    horizon_ms: int = Field(
        ge=0,
        description="the feed's instant (Unix ms): plans and changes hold every block that "
        "starts before their channel's horizon, the first mark of the channel's hourly grid "
        "after this instant; pass it as `held_ms` next time",
    )
    plans: list[PlanModel] = Field(
        description="whole plans: channels new to the engine (since=0, created, reconfigured)"
    )
    changes: list[PlanChangeModel] = Field(
        default_factory=list, description="changes of plans the engine holds"
    )
    deleted: list[str] = Field(description="ids of channels deleted after `since`")
    next_after: str | None = Field(
        default=None,
        description="more follows: ask again with the same `since`, `until=<revision>`, "
        "`horizon_ms` and `after=<next_after>`; null on the last page. A long plan or change "
        "comes in pieces, each next one a change that appends to it, and a page may end "
        "within one (`<channel id>@<µs>`)",
    )


class AssetIndexBatch(BaseModel):
    """Asset indexes by (id, version); the versions that do not exist are listed as missing."""

    assets: list[AssetIndexModel]
    missing: list[str] = Field(description="asked-for <asset id>@<version> that do not exist")


def change_json(change: PlanChange) -> str:
    return PlanChangeModel.from_core(change).model_dump_json(by_alias=True)


def plan_feed_page(
    revision: int,
    horizon_ms: int,
    plan_texts: Sequence[str],
    change_texts: Sequence[str],
    deleted: Sequence[str],
    next_after: str | None,
) -> bytes:
    """A PlanFeed from PlanModel and PlanChangeModel JSON texts written one by one (the
    schedule service sizes its pages by them); tests/test_wire_contract.py checks it is the
    PlanFeed model's own JSON, byte for byte."""
    return (
        f'{{"revision":{revision},"horizon_ms":{horizon_ms},"plans":['
        + ",".join(plan_texts)
        + '],"changes":['
        + ",".join(change_texts)
        + '],"deleted":'
        + json.dumps(list(deleted), separators=(",", ":"))
        + ',"next_after":'
        + json.dumps(next_after)
        + "}"
    ).encode()


def asset_index_batch_json(index_texts: Sequence[str], missing: Sequence[str]) -> bytes:
    """An AssetIndexBatch from stored AssetIndexModel JSON texts, spliced in as they are (an
    engine's cold start asks for hundreds: parsing and re-writing them would cost seconds).
    tests/test_wire_contract.py checks that the result parses as AssetIndexBatch."""
    return (
        '{"assets":[' + ",".join(index_texts) + '],"missing":' + json.dumps(list(missing)) + "}"
    ).encode()
