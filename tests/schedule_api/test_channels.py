"""/channels on SQLite and PostgreSQL: success and every error path."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.schedule_api.conftest import ingest


async def _slate(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "slate-ts", "slate")


async def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"] == "application/problem+json"
    return await response.json()  # type: ignore[no-any-return]


async def test_create_derives_target_duration_and_profile_from_the_slate(
    api: TestClient, origin: str
) -> None:
    await _slate(api, origin)
    response = await api.post("/channels", json={"id": "news", "name": "News", "slate": "slate"})
    assert response.status == 201
    assert response.headers["Location"] == "/channels/news"
    channel = await response.json()
    assert channel["target_duration"] == 2
    assert [p["name"] for p in channel["profile"]] == ["360p", "270p", "180p"]
    assert channel["playback_path"] == "/live/master.m3u8?channel=news"


async def test_create_keeps_an_explicit_profile(api: TestClient, origin: str) -> None:
    await _slate(api, origin)
    profile = [
        {
            "name": "sd",
            "bandwidth": 400000,
            "codecs": "avc1.4d401e,mp4a.40.2",
            "resolution": "640x360",
        }
    ]
    response = await api.post(
        "/channels",
        json={"id": "sd", "name": "SD", "slate": "slate", "target_duration": 4, "profile": profile},
    )
    channel = await response.json()
    assert (channel["target_duration"], channel["profile"][0]["name"]) == (4, "sd")


async def test_duplicate_id_is_a_409_naming_it(api: TestClient, origin: str) -> None:
    await _slate(api, origin)
    body = {"id": "news", "name": "News", "slate": "slate"}
    await api.post("/channels", json=body)
    problem = await _problem(await api.post("/channels", json=body), 409)
    assert problem["invalid-params"][0]["name"] == "id"


async def test_unknown_slate_is_a_422_naming_slate(api: TestClient) -> None:
    problem = await _problem(
        await api.post("/channels", json={"id": "a", "name": "A", "slate": "nope"}), 422
    )
    assert problem["invalid-params"] == [{"name": "slate", "reason": "asset 'nope' does not exist"}]


async def test_target_duration_below_the_slate_segments_is_refused(
    api: TestClient, origin: str
) -> None:
    await _slate(api, origin)
    problem = await _problem(
        await api.post(
            "/channels", json={"id": "a", "name": "A", "slate": "slate", "target_duration": 1}
        ),
        422,
    )
    assert problem["invalid-params"][0]["name"] == "target_duration"


async def test_window_shorter_than_three_target_durations_is_refused(
    api: TestClient, origin: str
) -> None:
    await _slate(api, origin)
    problem = await _problem(
        await api.post(
            "/channels",
            json={
                "id": "a",
                "name": "A",
                "slate": "slate",
                "target_duration": 11,
                "window_seconds": 30,
            },
        ),
        422,
    )
    assert problem["invalid-params"][0]["name"] == "window_seconds"


async def test_profile_the_slate_cannot_feed_is_refused(api: TestClient, origin: str) -> None:
    await _slate(api, origin)
    profile = [{"name": "hevc", "bandwidth": 1, "codecs": "hvc1.1.6.L93.B0,mp4a.40.2"}]
    problem = await _problem(
        await api.post(
            "/channels", json={"id": "a", "name": "A", "slate": "slate", "profile": profile}
        ),
        422,
    )
    assert problem["invalid-params"][0]["name"] == "profile"


async def test_invalid_fields_are_all_named(api: TestClient) -> None:
    problem = await _problem(
        await api.post(
            "/channels",
            json={
                "id": "Bad Id",
                "name": "",
                "slate": "s",
                "time_zone": "Mars/Olympus",
                "extra": 1,
            },
        ),
        422,
    )
    assert {p["name"] for p in problem["invalid-params"]} == {"id", "name", "time_zone", "extra"}


async def test_a_body_that_is_not_json_is_a_400(api: TestClient) -> None:
    problem = await _problem(await api.post("/channels", data=b"{not json"), 400)
    assert problem["invalid-params"][0]["name"] == "body"


async def test_list_and_get(api: TestClient, origin: str) -> None:
    await _slate(api, origin)
    await api.post("/channels", json={"id": "b", "name": "B", "slate": "slate"})
    await api.post("/channels", json={"id": "a", "name": "A", "slate": "slate"})
    listed = await (await api.get("/channels")).json()
    assert [c["id"] for c in listed["items"]] == ["a", "b"]
    assert (await (await api.get("/channels/b")).json())["name"] == "B"


async def test_unknown_channel_is_a_404(api: TestClient) -> None:
    await _problem(await api.get("/channels/missing"), 404)


async def test_patch_changes_name_and_window(api: TestClient, origin: str) -> None:
    await _slate(api, origin)
    await api.post("/channels", json={"id": "a", "name": "A", "slate": "slate"})
    response = await api.patch("/channels/a", json={"name": "Renamed", "window_seconds": 60})
    channel = await response.json()
    assert (channel["name"], channel["window_seconds"]) == ("Renamed", 60)


async def test_patch_cannot_change_target_duration_or_slate(api: TestClient, origin: str) -> None:
    await _slate(api, origin)
    await api.post("/channels", json={"id": "a", "name": "A", "slate": "slate"})
    problem = await _problem(
        await api.patch("/channels/a", json={"target_duration": 6, "slate": "x"}), 422
    )
    assert {p["name"] for p in problem["invalid-params"]} == {"target_duration", "slate"}


async def test_patch_of_an_unknown_channel_is_a_404(api: TestClient) -> None:
    await _problem(await api.patch("/channels/missing", json={"name": "x"}), 404)


async def test_delete_then_get_is_a_404(api: TestClient, origin: str) -> None:
    await _slate(api, origin)
    await api.post("/channels", json={"id": "a", "name": "A", "slate": "slate"})
    assert (await api.delete("/channels/a")).status == 204
    await _problem(await api.get("/channels/a"), 404)
    await _problem(await api.delete("/channels/a"), 404)
