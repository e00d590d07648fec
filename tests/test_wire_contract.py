"""The plan feed's wire contract (engine/feed_format.py): what the schedule service writes
is what the engine parses, field for field, and both import the one definition."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import engine.sync
from engine.changes import PlanChange
from engine.feed_format import (
    AssetIndexBatch,
    PlanChangeModel,
    PlanFeed,
    asset_index_batch_json,
    change_json,
    plan_feed_page,
)
from engine.model import US_PER_S, Block, Break, Clip, Plan
from engine.plan_format import AssetIndexModel, PlanModel, load_plan_directory
from schedule_api.http.openapi import openapi_document
from schedule_api.routes import OPERATIONS
from vchannel.samples import PLANS_DIR

PLANS, ASSETS = load_plan_directory(PLANS_DIR)


HORIZON_MS = 1_798_783_200_000


def plan_feed_json(
    revision: int,
    plans: list[Plan],
    changes: list[PlanChange],
    deleted: list[str],
    next_after: str | None,
) -> bytes:
    """A page as the PlanFeed model itself writes it: the reference for plan_feed_page."""
    page = PlanFeed(
        revision=revision,
        horizon_ms=HORIZON_MS,
        plans=[PlanModel.from_core(plan) for plan in plans],
        changes=[PlanChangeModel.from_core(change) for change in changes],
        deleted=deleted,
        next_after=next_after,
    )
    return page.model_dump_json(by_alias=True).encode()


def _changes(plans: list[Plan]) -> list[PlanChange]:
    """A change of each plan: a head at its checkpoint, then blocks with ad breaks."""
    clip = Clip(*next(iter(ASSETS))[:1], title="t", version=next(iter(ASSETS))[1])
    start = plans[0].checkpoint.time_us
    blocks = tuple(
        Block(start + i * 60 * US_PER_S, clip, f"e{i}", (Break(1, 5 * US_PER_S),))
        for i in range(1, 4)
    )
    return [
        PlanChange(
            plan.channel.id,
            plan.revision + 1,
            replace(plan.checkpoint, time_us=start),
            Block(start, clip, "first"),
            start + 30 * US_PER_S,
            blocks,
        )
        for plan in plans
    ]


def test_a_feed_page_round_trips_every_plan_and_change() -> None:
    plans = [plan for _path, plan in PLANS]
    changes = _changes(plans)
    assert changes
    body = plan_feed_json(42, plans, changes, ["gone"], "news")
    page = PlanFeed.model_validate_json(body)
    assert (
        page.revision,
        page.horizon_ms,
        [m.to_core() for m in page.plans],
        [m.to_core() for m in page.changes],
        page.deleted,
        page.next_after,
    ) == (42, HORIZON_MS, plans, changes, ["gone"], "news")


@pytest.mark.parametrize("next_after", ["news", None])
def test_a_page_written_item_by_item_is_the_feed_models_page(next_after: str | None) -> None:
    plans = [plan for _path, plan in PLANS]
    changes = _changes(plans)
    texts = [PlanModel.from_core(plan).model_dump_json() for plan in plans]
    change_texts = [change_json(change) for change in changes]
    assert plan_feed_page(
        7, HORIZON_MS, texts, change_texts, ["gone"], next_after
    ) == plan_feed_json(7, plans, changes, ["gone"], next_after)


def test_spliced_asset_indexes_round_trip_as_the_batch_model() -> None:
    texts = [
        AssetIndexModel.from_core(a).model_dump_json(exclude_none=True) for a in ASSETS.values()
    ]
    batch = AssetIndexBatch.model_validate_json(asset_index_batch_json(texts, ["lost@2"]))
    assert ([m.to_core() for m in batch.assets], batch.missing) == (
        list(ASSETS.values()),
        ["lost@2"],
    )


def test_an_empty_asset_index_batch_is_valid_json_of_the_model() -> None:
    batch = AssetIndexBatch.model_validate_json(asset_index_batch_json([], ["a@1", "b@2"]))
    assert (batch.assets, batch.missing) == ([], ["a@1", "b@2"])


def test_the_engine_parses_the_feed_with_the_shared_models() -> None:
    assert (engine.sync.PlanFeed, engine.sync.AssetIndexBatch) == (PlanFeed, AssetIndexBatch)


def test_the_openapi_document_describes_the_feed_with_the_shared_model() -> None:
    document = openapi_document(OPERATIONS)
    schema = document["paths"]["/plans"]["get"]["responses"]["200"]["content"]["application/json"]
    described = document["components"]["schemas"]["PlanFeed"]
    assert schema["schema"]["$ref"] == "#/components/schemas/PlanFeed"
    assert set(described["properties"]) == set(PlanFeed.model_fields)


def test_the_openapi_document_describes_asset_index_batches_with_the_shared_model() -> None:
    document = json.loads(json.dumps(openapi_document(OPERATIONS)))
    described = document["components"]["schemas"]["AssetIndexBatch"]
    assert set(described["properties"]) == set(AssetIndexBatch.model_fields)


def test_errors_cross_a_process_boundary_whole() -> None:
    import pickle

    from engine.errors import NotOnAir, PlanError

    plan_error = pickle.loads(pickle.dumps(PlanError("plan x", "channel.window", "too short")))
    not_on_air = pickle.loads(pickle.dumps(NotOnAir("later", 5)))
    assert (str(plan_error), plan_error.field, not_on_air.until_us) == (
        "plan x: channel.window: too short",
        "channel.window",
        5,
    )
