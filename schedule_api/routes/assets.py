"""/assets and /ingest-jobs: ingest, versions, guide metadata, bulk ingest."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from aiohttp import web

from common.errors import Invalid, Malformed
from common.text import check_text
from schedule_api import models, views
from schedule_api.http.keys import CONTEXT, JOBS
from schedule_api.http.openapi import Operation, Query
from schedule_api.http.params import body, json_response, optional_int, query_int, slug
from schedule_api.service import assets

VERSION_QUERY = Query(
    "version",
    {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    "asset version (default: the latest)",
)
IMMUTABLE = "max-age=31536000, immutable"
"""Cache-Control of what never changes (a given asset version)."""


async def create_asset(request: web.Request) -> web.Response:
    given = await body(request, models.AssetCreate)
    asset_id = given.id or assets.default_asset_id(given.title, given.url)
    row = await assets.create(request.app[CONTEXT], asset_id, given.model_dump())
    return json_response(views.asset(row, [row.version]), 201, {"Location": f"/assets/{row.id}"})


async def reingest_asset(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    row = await assets.reingest(ctx, slug(request))
    _row, versions = await assets.get(ctx.store, row.id)
    return json_response(views.asset(row, versions), 201, {"Location": f"/assets/{row.id}"})


async def list_assets(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", 50, 1, 200)
    offset = query_int(request, "offset", 0, 0, 10**9)
    query = request.query.get("q", "")
    if len(query) > 100:
        raise Malformed("q", "at most 100 characters")
    try:
        check_text(query)
    except ValueError as error:
        raise Malformed("q", str(error)) from None
    found, total = await assets.search(request.app[CONTEXT].store, query, limit, offset)
    items = [views.asset(row, versions) for row, versions in found]
    return json_response(models.AssetPage(items=items, total=total, limit=limit, offset=offset))


async def get_asset(request: web.Request) -> web.Response:
    version = optional_int(request, "version", 1, 10**6)
    row, versions = await assets.get(request.app[CONTEXT].store, slug(request), version)
    return json_response(views.asset(row, versions))


async def get_asset_index(request: web.Request) -> web.Response:
    version = optional_int(request, "version", 1, 10**6)
    found, text = await assets.index_text(request.app[CONTEXT].store, slug(request), version)
    # A given version never changes: cacheable for as long as anyone likes.
    cache = IMMUTABLE if version is not None else "no-cache"
    return web.Response(
        body=text.encode(),
        content_type="application/json",
        headers={"Cache-Control": cache, "X-Asset-Version": str(found)},
    )


async def update_asset(request: web.Request) -> web.Response:
    change = await body(request, models.AssetUpdate)
    changes = {name: getattr(change, name) for name in change.model_fields_set}
    row, versions = await assets.update(request.app[CONTEXT].store, slug(request), changes)
    return json_response(views.asset(row, versions))


async def delete_asset(request: web.Request) -> web.Response:
    await assets.delete(request.app[CONTEXT].store, slug(request))
    return web.Response(status=204)


async def create_ingest_job(request: web.Request) -> web.Response:
    given = await body(request, models.IngestJobCreate)
    items: list[dict[str, Any]] = []
    for i, asset in enumerate(given.items):
        asset_id = asset.id or assets.default_asset_id(asset.title, asset.url)
        if any(item["id"] == asset_id for item in items):
            raise Invalid(f"items.{i}.id", f"{asset_id!r} appears twice in the request")
        items.append(
            {
                "url": asset.url,
                "title": asset.title,
                "id": asset_id,
                "state": "queued",
                "version": None,
                "error": None,
                "meta": asset.model_dump(),
            }
        )
    ctx = request.app[CONTEXT]
    job = await assets.start_job(ctx, f"job-{secrets.token_hex(8)}", items)
    task = asyncio.create_task(assets.run_job(ctx, job.id, items))
    request.app[JOBS].add(task)
    task.add_done_callback(request.app[JOBS].discard)
    return json_response(views.job(job), 202, {"Location": f"/ingest-jobs/{job.id}"})


async def get_ingest_job(request: web.Request) -> web.Response:
    row = await assets.job(request.app[CONTEXT].store, slug(request, "job_id"))
    return json_response(views.job(row))


OPERATIONS = (
    Operation(
        "POST",
        "/assets",
        create_asset,
        "Ingest an HLS VOD as a new asset",
        201,
        models.Asset,
        models.AssetCreate,
        (400, 401, 409, 413, 422),
        tag="assets",
    ),
    Operation(
        "GET",
        "/assets",
        list_assets,
        "List and search assets",
        200,
        models.AssetPage,
        errors=(400,),
        tag="assets",
        query=(
            Query("q", {"type": "string", "maxLength": 100}, "id or title contains"),
            Query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"),
            Query("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}, "skip"),
        ),
    ),
    Operation(
        "GET",
        "/assets/{id}",
        get_asset,
        "Get an asset with its renditions",
        200,
        models.Asset,
        errors=(400, 404),
        query=(VERSION_QUERY,),
        tag="assets",
    ),
    Operation(
        "POST",
        "/assets/{id}/reingest",
        reingest_asset,
        "Fetch the asset again as a new version",
        201,
        models.Asset,
        errors=(401, 404, 409, 422),
        tag="assets",
    ),
    Operation(
        "GET",
        "/assets/{id}/index",
        get_asset_index,
        "The immutable asset index that engines read",
        200,
        None,
        errors=(400, 404),
        query=(VERSION_QUERY,),
        tag="assets",
    ),
    Operation(
        "DELETE",
        "/assets/{id}",
        delete_asset,
        "Delete an asset and all its versions",
        204,
        errors=(401, 404, 409),
        tag="assets",
    ),
    Operation(
        "PATCH",
        "/assets/{id}",
        update_asset,
        "Change an asset's guide metadata and tags (every version)",
        200,
        models.Asset,
        models.AssetUpdate,
        (400, 401, 404, 413, 422),
        tag="assets",
    ),
)


JOB_OPERATIONS = (
    Operation(
        "POST",
        "/ingest-jobs",
        create_ingest_job,
        "Ingest many HLS VODs in the background; poll the job for progress",
        202,
        models.IngestJob,
        models.IngestJobCreate,
        (400, 401, 413, 422),
        tag="assets",
    ),
    Operation(
        "GET",
        "/ingest-jobs/{job_id}",
        get_ingest_job,
        "Progress of a bulk ingest",
        200,
        models.IngestJob,
        errors=(404,),
        tag="assets",
    ),
)
