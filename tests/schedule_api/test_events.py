"""/channels/{id}/events on SQLite and PostgreSQL: scheduling, clips, overlaps, the lock
horizon, batches, and what events do to assets."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from common.instants import format_date
from tests.schedule_api.conftest import advance, ingest, now_us

S = 1_000_000


async def _channel(api: TestClient, origin: str, *assets: str) -> None:
    await ingest(api, origin, "slate-ts", "slate")
    for asset in assets:
        await ingest(api, origin, asset, asset)
    response = await api.post("/channels", json={"id": "news", "name": "News", "slate": "slate"})
    assert response.status == 201, await response.text()


def _at(api: TestClient, seconds: float) -> str:
    """RFC 3339 for now + seconds."""
    return format_date(now_us(api) + round(seconds * S))


async def _post(api: TestClient, **body: Any) -> Any:
    return await api.post("/channels/news/events", json=body)


async def _created(api: TestClient, **body: Any) -> dict[str, Any]:
    response = await _post(api, **body)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def _problem(response: Any, status: int, field: str) -> str:
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = await response.json()
    assert problem["invalid-params"][0]["name"] == field
    return str(problem["detail"])


async def test_an_event_runs_for_its_asset_length(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    event = await _created(api, asset="ts-alpha", start=_at(api, 60))
    assert (event["end_ms"] - event["start_ms"], event["version"]) == (20_000, 1)


async def test_start_ms_is_the_same_instant_as_start(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    event = await _created(api, asset="ts-alpha", start_ms=now_us(api) // 1000 + 60_000)
    assert event["start"] == _at(api, 60)


async def test_a_start_is_required(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    await _problem(await _post(api, asset="ts-alpha"), 422, "body")


async def test_unknown_asset_is_a_422_naming_asset(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _problem(await _post(api, asset="ghost", start=_at(api, 60)), 422, "asset")


async def test_unknown_version_is_a_422_naming_version(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    response = await _post(api, asset="ts-alpha", version=4, start=_at(api, 60))
    await _problem(response, 422, "version")


async def test_an_fmp4_asset_cannot_air_on_a_ts_channel(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "cmaf-delta")
    detail = await _problem(await _post(api, asset="cmaf-delta", start=_at(api, 60)), 422, "asset")
    assert "one segment format" in detail


async def test_clip_points_snap_to_the_nearest_segment_boundaries(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin, "ts-alpha")
    event = await _created(
        api, asset="ts-alpha", start=_at(api, 60), clip_in_seconds=3.1, clip_out_seconds=9.0
    )
    assert (event["first_segment"], event["end_segment"], event["duration_seconds"]) == (2, 4, 4)


async def test_clip_out_before_clip_in_is_a_422(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    response = await _post(
        api, asset="ts-alpha", start=_at(api, 60), clip_in_seconds=8, clip_out_seconds=4
    )
    await _problem(response, 422, "clip_out_seconds")


async def test_an_overlap_is_a_409_naming_the_event_met(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    first = await _created(api, asset="ts-alpha", start=_at(api, 60))
    detail = await _problem(await _post(api, asset="ts-alpha", start=_at(api, 70)), 409, "start")
    assert first["id"] in detail


async def test_replace_shortens_the_event_before_and_removes_the_one_inside(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin, "ts-alpha", "ts-bravo")
    before = await _created(api, asset="ts-alpha", start=_at(api, 60))
    inside = await _created(api, asset="ts-alpha", start=_at(api, 95))
    await _created(api, asset="ts-bravo", start=_at(api, 70), replace=True)
    shortened = await (await api.get(f"/channels/news/events/{before['id']}")).json()
    assert shortened["end"] == _at(api, 70)
    assert (await api.get(f"/channels/news/events/{inside['id']}")).status == 404


async def test_an_event_before_the_lock_horizon_is_a_409_naming_it(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin, "ts-alpha")
    detail = await _problem(await _post(api, asset="ts-alpha", start=_at(api, 11)), 409, "start")
    assert f"lock horizon {_at(api, 10)}" in detail


async def test_an_event_just_after_horizon_plus_one_target_duration_is_accepted(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin, "ts-alpha")
    await _created(api, asset="ts-alpha", start=_at(api, 12.5))


async def test_moving_an_event_that_is_on_air_is_a_409(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    event = await _created(api, asset="ts-alpha", start=_at(api, 60))
    advance(api, 65)
    response = await api.patch(
        f"/channels/news/events/{event['id']}", json={"start_ms": 10**12 * 2}
    )
    await _problem(response, 409, "start")


async def test_deleting_an_event_that_is_on_air_is_a_409(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    event = await _created(api, asset="ts-alpha", start=_at(api, 60))
    advance(api, 65)
    await _problem(await api.delete(f"/channels/news/events/{event['id']}"), 409, "id")


async def test_patch_moves_an_event_and_overrides_its_title(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    event = await _created(api, asset="ts-alpha", start=_at(api, 60))
    response = await api.patch(
        f"/channels/news/events/{event['id']}", json={"start": _at(api, 120), "title": "Late"}
    )
    assert response.status == 200, await response.text()
    changed = await response.json()
    assert (changed["start"], changed["title"], changed["title_override"]) == (
        _at(api, 120),
        "Late",
        "Late",
    )


async def test_patch_of_an_unknown_event_is_a_404(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    response = await api.patch("/channels/news/events/nope", json={"title": "x"})
    await _problem(response, 404, "event_id")


async def test_delete_then_get_is_a_404(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    event = await _created(api, asset="ts-alpha", start=_at(api, 60))
    assert (await api.delete(f"/channels/news/events/{event['id']}")).status == 204
    await _problem(await api.get(f"/channels/news/events/{event['id']}"), 404, "event_id")


async def test_list_returns_the_events_overlapping_the_range(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    for offset in (60, 100, 140):
        await _created(api, asset="ts-alpha", start=_at(api, offset))
    response = await api.get(
        "/channels/news/events", params={"start": _at(api, 90), "end": _at(api, 141)}
    )
    assert [e["start"] for e in (await response.json())["items"]] == [
        _at(api, 100),
        _at(api, 140),
    ]


async def test_list_with_an_unparseable_start_is_a_400(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    response = await api.get("/channels/news/events", params={"start": "tomorrow"})
    await _problem(response, 400, "start")


async def test_events_of_an_unknown_channel_are_a_404(api: TestClient) -> None:
    await _problem(await api.get("/channels/ghost/events"), 404, "id")


async def test_a_batch_creates_every_event(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha", "ts-bravo")
    events = [
        {"asset": "ts-alpha", "start": _at(api, 60)},
        {"asset": "ts-bravo", "start": _at(api, 80), "title": "B"},
    ]
    response = await api.post("/channels/news/event-batches", json={"events": events})
    assert response.status == 201, await response.text()
    assert [e["title"] for e in (await response.json())["items"]] == ["ts-alpha", "B"]


async def test_a_batch_that_overlaps_itself_is_a_422_naming_the_event(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin, "ts-alpha")
    events = [
        {"asset": "ts-alpha", "start": _at(api, 60)},
        {"asset": "ts-alpha", "start": _at(api, 70)},
    ]
    response = await api.post("/channels/news/event-batches", json={"events": events})
    await _problem(response, 422, "events.1.start")


async def test_a_batch_with_one_bad_event_creates_nothing(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    events = [
        {"asset": "ts-alpha", "start": _at(api, 60)},
        {"asset": "ghost", "start": _at(api, 90)},
    ]
    response = await api.post("/channels/news/event-batches", json={"events": events})
    await _problem(response, 422, "events.1.asset")
    assert (await (await api.get("/channels/news/events")).json())["items"] == []


async def test_a_scheduled_asset_cannot_be_deleted(api: TestClient, origin: str) -> None:
    await _channel(api, origin, "ts-alpha")
    event = await _created(api, asset="ts-alpha", start=_at(api, 60))
    detail = await _problem(await api.delete("/assets/ts-alpha"), 409, "id")
    assert event["id"] in detail


async def test_a_reingested_asset_airs_its_new_version_in_new_events_only(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin, "ts-alpha")
    old = await _created(api, asset="ts-alpha", start=_at(api, 60))
    assert (await api.post("/assets/ts-alpha/reingest")).status == 201
    new = await _created(api, asset="ts-alpha", start=_at(api, 100))
    kept = await (await api.get(f"/channels/news/events/{old['id']}")).json()
    assert (kept["version"], new["version"]) == (1, 2)
