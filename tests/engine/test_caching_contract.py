"""The cache contract (docs/caching.md, engine/caching.py): the Cache-Control of every kind of
response, checked over HTTP with a manual clock."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from common.cdn import dead_origin_detection_s
from common.clock import ManualClock
from common.instants import to_us
from engine.app import create_app, load_timelines
from engine.caching import STALE_IF_ERROR_S
from engine.model import US_PER_S
from engine.settings import EngineSettings
from engine.timeline import Timeline, compile_timeline
from engine.window import live_window
from tests.factories import T0, keyed, make_asset, make_plan
from vchannel.samples import CHECKPOINT, PLANS_DIR

S = US_PER_S
NOW = to_us(CHECKPOINT) + 86_400 * S + 1_234_567
LIVE_2S = "public, max-age=1, stale-if-error=60"
"""A live playlist of a channel whose target duration is 2 s: always kept 1 s."""
IMMUTABLE = "public, max-age=86400, immutable"


def _news() -> Timeline:
    """6 s segments (target duration 6): a 60 s program every 120 s for an hour from T0."""
    assets = {
        "slate": make_asset("slate", [6 * S] * 3),
        "show": make_asset("show", [6 * S] * 10),
    }
    blocks = [(T0 + 120 * S * n, "show") for n in range(30)]
    plan = make_plan(blocks, channel_id="news", target_duration_s=6, window_us=36 * S)
    return compile_timeline(plan, keyed(assets))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def client(aiohttp_client: Any, clock: ManualClock) -> TestClient:
    timelines = {**load_timelines(PLANS_DIR), "news": _news()}
    app = create_app(EngineSettings(), timelines=timelines, clock=clock)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def _cache_control(client: TestClient, path: str, status: int = 200) -> str:
    response = await client.get(path, allow_redirects=False)
    assert response.status == status, await response.text()
    return response.headers["Cache-Control"]


def _max_age(cache_control: str) -> int:
    found = re.search(r"max-age=(\d+)", cache_control)
    assert found is not None, cache_control
    return int(found.group(1))


async def test_a_multivariant_playlist_is_kept_ten_seconds(client: TestClient) -> None:
    assert await _cache_control(client, "/live/master.m3u8?channel=sample-ts") == (
        "public, max-age=10, stale-while-revalidate=10, stale-if-error=60"
    )


async def test_a_live_media_playlist_is_kept_half_its_target_duration(client: TestClient) -> None:
    assert await _cache_control(client, "/live/360p.m3u8?channel=sample-ts") == LIVE_2S


async def test_an_audio_rendition_playlist_follows_the_live_rule(client: TestClient) -> None:
    assert await _cache_control(client, "/live/audio-fr.m3u8?channel=sample-multi") == LIVE_2S


async def test_a_subtitle_playlist_is_kept_at_most_half_its_own_target_duration(
    client: TestClient,
) -> None:
    response = await client.get("/live/subs-en.m3u8?channel=sample-multi")
    target = re.search(r"#EXT-X-TARGETDURATION:(\d+)", await response.text())
    assert target is not None
    half = int(target.group(1)) // 2
    cache_control = response.headers["Cache-Control"]
    assert 1 <= _max_age(cache_control) <= half
    assert cache_control.endswith(", stale-if-error=60")


async def test_a_time_shifted_playlist_follows_the_live_rule(client: TestClient) -> None:
    assert await _cache_control(client, "/live/shift/600/360p.m3u8?channel=sample-ts") == LIVE_2S


async def test_the_path_form_follows_the_live_rule(client: TestClient) -> None:
    assert await _cache_control(client, "/channels/sample-cmaf/360p.m3u8") == LIVE_2S


async def test_a_304_carries_the_cache_control_of_the_200(client: TestClient) -> None:
    first = await client.get("/live/180p.m3u8?channel=sample-ts")
    again = await client.get(
        "/live/180p.m3u8?channel=sample-ts", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status == 304
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]


async def test_the_start_over_redirect_is_kept_one_second(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 130 * S
    path = "/live/startover/master.m3u8?channel=news"
    assert await _cache_control(client, path, 302) == "public, max-age=1"


def _program(start_s: int) -> str:
    return f"/live/program/{(T0 + start_s * S) // 1000}/360p.m3u8?channel=news"


async def test_a_growing_start_over_playlist_follows_the_live_rule(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 150 * S  # the program of 120-180 s is on air, next segment at 156
    assert await _cache_control(client, _program(120)) == ("public, max-age=3, stale-if-error=60")


async def test_an_ended_start_over_playlist_is_immutable(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 200 * S
    assert await _cache_control(client, _program(120)) == IMMUTABLE


async def test_the_empty_webvtt_segment_is_immutable(client: TestClient) -> None:
    assert await _cache_control(client, "/live/empty.vtt") == IMMUTABLE


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/live/360p.m3u8?channel=nope", 404),
        ("/live/360p.m3u8", 400),
        ("/live/shift/99999999/360p.m3u8?channel=sample-ts", 400),
        ("/nowhere", 404),
    ],
)
async def test_an_error_is_never_stored(client: TestClient, path: str, status: int) -> None:
    assert await _cache_control(client, path, status) == "no-store"


async def test_a_channel_not_on_air_yet_is_never_stored(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 - 3600 * S
    assert await _cache_control(client, "/live/360p.m3u8?channel=news", 503) == "no-store"


@pytest.mark.parametrize("path", ["/health", "/metrics"])
async def test_operations_endpoints_are_never_stored(client: TestClient, path: str) -> None:
    assert await _cache_control(client, path) == "no-store"


async def test_a_live_max_age_is_between_one_second_and_half_the_target(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 100 * S
    ages = set()
    for _ in range(300):
        ages.add(_max_age(await _cache_control(client, "/live/360p.m3u8?channel=news")))
        clock.advance(137_000)
    assert ages == {1, 2, 3}


async def test_a_kept_copy_expires_within_a_second_after_its_window_changes(
    client: TestClient, clock: ManualClock
) -> None:
    timeline = _news()
    clock.instant_us = T0 + 100 * S
    for _ in range(300):
        age = _max_age(await _cache_control(client, "/live/360p.m3u8?channel=news"))
        change = live_window(timeline, clock.instant_us).next_change_us
        assert clock.instant_us + age * S < change + S
        clock.advance(137_000)


async def test_replicas_send_the_same_header_at_the_same_instant(
    aiohttp_client: Any, clock: ManualClock
) -> None:
    clients = [
        await aiohttp_client(create_app(EngineSettings(), timelines={"news": _news()}, clock=clock))
        for _ in range(2)
    ]
    clock.instant_us = T0 + 100 * S
    for _ in range(50):
        headers = {await _cache_control(each, "/live/360p.m3u8?channel=news") for each in clients}
        assert len(headers) == 1
        clock.advance(173_000)


def test_stale_if_error_outlasts_the_load_balancer_taking_a_dead_engine_out() -> None:
    assert dead_origin_detection_s() < STALE_IF_ERROR_S
