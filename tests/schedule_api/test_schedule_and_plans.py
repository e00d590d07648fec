"""The schedule read (segment-exact times) and the plan feed engines poll, on both databases."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from common.instants import format_date, to_us
from engine.plan_format import AssetIndexModel, PlanModel
from engine.render import render_media_playlist
from engine.timeline import compile_timeline
from engine.window import live_window
from schedule_api.service import feed
from tests.schedule_api.conftest import ingest, now_us, problem

S = 1_000_000


async def _channel(api: TestClient, origin: str, channel_id: str = "news") -> None:
    if (await api.get("/assets/slate")).status == 404:
        await ingest(api, origin, "slate-ts", "slate")
        await ingest(api, origin, "ts-alpha", "ts-alpha")
    body = {"id": channel_id, "name": "News", "slate": "slate", "time_zone": "Europe/Stockholm"}
    assert (await api.post("/channels", json=body)).status == 201


async def _event(api: TestClient, seconds: float, channel_id: str = "news") -> dict[str, Any]:
    start = format_date(now_us(api) + round(seconds * S))
    response = await api.post(
        f"/channels/{channel_id}/events", json={"asset": "ts-alpha", "start": start}
    )
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def _feed(api: TestClient, since: int, held_ms: int = 0) -> dict[str, Any]:
    params = {"since": str(since), "held_ms": str(held_ms)}
    response = await api.get("/plans", params=params)
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def _every_page(api: TestClient) -> list[dict[str, Any]]:
    """Every page of a cold start's answer (since=0), following `next_after`."""
    pages = [await _feed(api, 0)]
    while pages[-1]["next_after"] is not None:
        params = {
            "since": "0",
            "until": str(pages[0]["revision"]),
            "after": pages[-1]["next_after"],
        }
        pages.append(await (await api.get("/plans", params=params)).json())
    return pages


async def test_schedule_times_are_snapped_to_segment_boundaries(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    event = await _event(api, 61.3)  # the slate's 2 s segments put the boundary at +62 s
    response = await api.get("/channels/news/schedule")
    (entry,) = (await response.json())["items"]
    assert (entry["id"], entry["start_time"], entry["duration"]) == (
        event["id"],
        (now_us(api) + 62 * S) // 1000,
        20.0,
    )


async def test_schedule_by_date_covers_the_local_day(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _event(api, 60)
    response = await api.get("/channels/news/schedule", params={"date": "2027-01-15"})
    schedule = await response.json()
    assert (schedule["start"], schedule["end"], len(schedule["items"])) == (
        "2027-01-14T23:00:00.000Z",
        "2027-01-15T23:00:00.000Z",
        1,
    )


async def test_schedule_with_a_bad_date_is_a_400(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    response = await api.get("/channels/news/schedule", params={"date": "15/01/2027"})
    assert response.status == 400
    assert (await response.json())["invalid-params"][0]["name"] == "date"


async def test_schedule_of_an_unknown_channel_is_a_404(api: TestClient) -> None:
    assert (await api.get("/channels/ghost/schedule")).status == 404


async def test_the_feed_lists_every_plan_from_revision_zero(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "one")
    await _channel(api, origin, "two")
    feed = await _feed(api, 0)
    assert [plan["channel"]["id"] for plan in feed["plans"]] == ["one", "two"]


async def test_an_unchanged_feed_answers_nothing_new(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    first = await _feed(api, 0)
    revision, horizon = first["revision"], first["horizon_ms"]
    assert await _feed(api, revision, horizon) == {
        "revision": revision,
        "horizon_ms": horizon,
        "plans": [],
        "changes": [],
        "deleted": [],
        "next_after": None,
    }


async def test_an_event_write_puts_only_its_channel_in_the_feed(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin, "one")
    await _channel(api, origin, "two")
    first = await _feed(api, 0)
    event = await _event(api, 60, "two")
    feed = await _feed(api, first["revision"], first["horizon_ms"])
    (change,) = feed["changes"]
    assert (change["channel"], change["revision"], change["blocks"][0]["event_id"]) == (
        "two",
        feed["revision"],
        event["id"],
    )


async def test_a_deleted_channel_is_listed_as_deleted(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    revision = (await _feed(api, 0))["revision"]
    assert (await api.delete("/channels/news")).status == 204
    assert (await _feed(api, revision))["deleted"] == ["news"]


async def test_the_feed_and_asset_indexes_give_engines_the_schedule_times(
    api: TestClient, origin: str
) -> None:
    """An engine built from the feed lists the event's first segment at the schedule's start."""
    await _channel(api, origin)
    await _event(api, 61.3)
    (plan_json,) = (await _feed(api, 0))["plans"]
    plan = PlanModel.model_validate(plan_json).to_core()
    assets = {}
    for asset_id, version in plan.asset_keys():
        response = await api.get(f"/assets/{asset_id}/index", params={"version": str(version)})
        assert response.headers["Cache-Control"] == "max-age=31536000, immutable"
        asset = AssetIndexModel.model_validate(json.loads(await response.read())).to_core()
        assets[asset.key] = asset
    timeline = compile_timeline(plan, assets)
    (entry,) = (await (await api.get("/channels/news/schedule")).json())["items"]
    playlist = render_media_playlist(
        timeline, live_window(timeline, entry["end_time"] * 1000), 0
    ).decode()
    lines = playlist.splitlines()
    first = next(i for i, line in enumerate(lines) if "/ts-alpha/" in line)
    assert lines[first - 2] == f"#EXT-X-PROGRAM-DATE-TIME:{entry['start']}"


async def test_feed_pages_together_list_every_changed_channel(api: TestClient, origin: str) -> None:
    for channel_id in ("a", "b", "c"):
        await _channel(api, origin, channel_id)
    first = await (await api.get("/plans", params={"since": "0", "limit": "2"})).json()
    params = {"since": "0", "limit": "2", "until": str(first["revision"]), "after": "b"}
    second = await (await api.get("/plans", params=params)).json()
    assert (
        [p["channel"]["id"] for p in first["plans"]],
        first["next_after"],
        [p["channel"]["id"] for p in second["plans"]],
        second["next_after"],
    ) == (["a", "b"], "b", ["c"], None)


async def test_feed_pages_are_cut_by_size(
    api: TestClient, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages bounded to a byte each: one plan a page, and together every channel."""
    monkeypatch.setattr(feed, "FEED_PAGE_BYTES", 1)
    for channel_id in ("a", "b", "c"):
        await _channel(api, origin, channel_id)
    await api.delete("/channels/b")
    pages = await _every_page(api)
    assert [([p["channel"]["id"] for p in page["plans"]], page["deleted"]) for page in pages] == [
        (["a"], []),
        ([], ["b"]),
        (["c"], []),
    ]


async def test_a_page_cut_within_a_long_plan_resumes_at_its_next_piece(
    api: TestClient, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces of two blocks, pages of a byte: each page holds one piece, and its cursor
    names where the next one starts; together they hold the plan."""
    monkeypatch.setattr(feed, "FEED_PAGE_BYTES", 1)
    monkeypatch.setattr(feed, "PIECE_WEIGHT", 2)
    await _channel(api, origin)
    events = [await _event(api, 60 + 30 * n) for n in range(5)]
    pages = await _every_page(api)
    starts = [
        to_us(datetime.fromisoformat(b["start"]))
        for c in pages[1]["changes"] + pages[2]["changes"]
        for b in c["blocks"]
    ]
    assert [page["next_after"] for page in pages] == [
        f"news@{starts[0]}",
        f"news@{starts[2]}",
        None,
    ]
    assert [b["event_id"] for p in pages[0]["plans"] for b in p["blocks"]] + [
        b["event_id"] for page in pages for c in page["changes"] for b in c["blocks"]
    ] == [event["id"] for event in events]


async def test_a_malformed_page_cursor_is_a_400_naming_after(api: TestClient) -> None:
    await problem(await api.get("/plans", params={"after": "news@soon"}), 400, "after")


async def test_a_later_page_keeps_the_first_pages_revision(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "a")
    revision = (await _feed(api, 0))["revision"]
    await _channel(api, origin, "b")
    params = {"since": "0", "until": str(revision), "after": "a"}
    page = await (await api.get("/plans", params=params)).json()
    assert page["revision"] == revision


async def test_asset_indexes_come_many_per_request(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    response = await api.get("/asset-indexes?key=slate@1&key=ts-alpha@1&key=ts-alpha@9")
    batch = await response.json()
    assets = [AssetIndexModel.model_validate(a).to_core().key for a in batch["assets"]]
    assert (assets, batch["missing"]) == ([("slate", 1), ("ts-alpha", 1)], ["ts-alpha@9"])


async def test_asset_indexes_equal_the_single_index(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    single = await (await api.get("/assets/ts-alpha/index?version=1")).json()
    batch = await (await api.get("/asset-indexes?key=ts-alpha@1")).json()
    assert batch["assets"] == [single]


async def test_a_malformed_asset_key_is_a_400_naming_key(api: TestClient) -> None:
    response = await api.get("/asset-indexes?key=alpha")
    problem = await response.json()
    assert (response.status, problem["invalid-params"][0]["name"]) == (400, "key")


async def test_more_than_100_asset_keys_are_a_400_naming_key(api: TestClient) -> None:
    query = "&".join(f"key=a{i}@1" for i in range(101))
    response = await api.get(f"/asset-indexes?{query}")
    problem = await response.json()
    assert (response.status, problem["invalid-params"][0]["name"]) == (400, "key")


async def test_concurrent_requests_for_one_feed_page_build_it_once(
    api: TestClient, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _channel(api, origin)
    assert api.app is not None
    built = []
    plan_page = feed.plan_page

    async def counted(*args: Any, **hints: Any) -> Any:
        built.append(args)
        await asyncio.sleep(0.05)  # a page of 1,000 plans takes a while
        return await plan_page(*args, **hints)

    monkeypatch.setattr(feed, "plan_page", counted)
    answers = await asyncio.gather(*(api.get("/plans", params={"since": "0"}) for _ in range(4)))
    bodies = {await answer.read() for answer in answers}
    assert (len(built), len(bodies), [a.status for a in answers]) == (1, 1, [200] * 4)
