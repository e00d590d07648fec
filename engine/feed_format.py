"""The plan feed's wire format, defined once: the schedule service writes it (GET /plans,
GET /asset-indexes) and the engine reads it (engine/sync.py); the OpenAPI document is
generated from these models. Plans and asset indexes inside it are engine/plan_format.py's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import BaseModel, Field

from engine.plan_format import AssetIndexModel, PlanModel


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


def plan_feed_page(
    revision: int, plan_texts: Sequence[str], deleted: Sequence[str], next_after: str | None
) -> bytes:
    """A PlanFeed from PlanModel JSON texts written one by one (the schedule service sizes
    its pages by them); tests/test_wire_contract.py checks it is the PlanFeed model's own
    JSON, byte for byte."""
    return (
        f'{{"revision":{revision},"plans":['
        + ",".join(plan_texts)
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
