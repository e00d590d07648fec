"""Time-shift (/live/shift/<seconds>/...) and start-over (/live/startover, /live/program/...)
over HTTP with a manual clock."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from common.clock import ManualClock
from common.instants import to_us
from engine.app import create_app, load_timelines
from engine.channels import Channels
from engine.model import US_PER_S
from engine.render import render_media_playlist
from engine.settings import EngineSettings
from engine.timeline import Timeline, compile_timeline
from engine.window import live_window
from tests.conformance import check_reload, parse_media_playlist, variant_uris
from tests.factories import T0, keyed, make_asset, make_plan
from vchannel.samples import CHECKPOINT, PLANS_DIR

S = US_PER_S
NOW = to_us(CHECKPOINT) + 3 * 86_400 * S + 1_234_567
SIX_HOURS = 6 * 3600


def _news() -> Timeline:
    """Programs of 20 s every 60 s for the first hour after T0, slate between them."""
    assets = {
        "slate": make_asset("slate", [2 * S] * 3),
        "show": make_asset("show", [2 * S] * 10),
    }
    blocks = [(T0 + 60 * S * n, "show") for n in range(60)]
    return compile_timeline(make_plan(blocks, channel_id="news"), keyed(assets))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def client(aiohttp_client: Any, clock: ManualClock) -> TestClient:
    timelines = {**load_timelines(PLANS_DIR), "news": _news()}
    app = create_app(EngineSettings(), timelines=timelines, clock=clock)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def _text(client: TestClient, url: str, status: int = 200) -> str:
    response = await client.get(url, allow_redirects=False)
    assert response.status == status, await response.text()
    return await response.text()


async def _field(client: TestClient, url: str, status: int) -> str:
    response = await client.get(url)
    assert response.status == status, await response.text()
    return str((await response.json())["invalid-params"][0]["name"])


async def test_a_shifted_playlist_is_the_live_playlist_of_that_moment(
    client: TestClient, clock: ManualClock
) -> None:
    shifted = await _text(client, f"/live/shift/{SIX_HOURS}/360p.m3u8?channel=sample-ts")
    clock.instant_us -= SIX_HOURS * S
    assert shifted == await _text(client, "/live/360p.m3u8?channel=sample-ts")


async def test_a_shifted_master_points_at_shifted_media_playlists(client: TestClient) -> None:
    url = f"http://engine/live/shift/{SIX_HOURS}/master.m3u8?channel=sample-ts"
    master = await _text(client, url.removeprefix("http://engine"))
    assert variant_uris(url, master)[0] == (
        f"http://engine/live/shift/{SIX_HOURS}/360p.m3u8?channel=sample-ts"
    )


async def test_a_shift_beyond_the_channels_maximum_is_a_400(client: TestClient) -> None:
    url = "/live/shift/86401/master.m3u8?channel=sample-ts"
    assert await _field(client, url, 400) == "seconds"


async def test_a_shift_that_is_not_a_number_is_a_400(client: TestClient) -> None:
    assert await _field(client, "/live/shift/1e3/360p.m3u8?channel=sample-ts", 400) == "seconds"


async def test_a_shift_before_the_channels_history_is_a_400(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 30 * S
    assert await _field(client, "/live/shift/25/360p.m3u8?channel=news", 400) == "seconds"


async def test_shifted_playlists_conform_across_reloads(
    client: TestClient, clock: ManualClock
) -> None:
    url = f"/live/shift/{SIX_HOURS}/270p.m3u8?channel=sample-ts"
    previous, violations = None, []
    for step in range(400):
        parsed = parse_media_playlist(await _text(client, url), url)
        violations += parsed.violations
        if previous is not None:
            violations += check_reload(previous, parsed, url)
        previous = parsed
        clock.advance(3 * S + (step % 5) * 71_000)
    assert violations == []


async def test_start_over_redirects_to_the_program_on_air(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 185 * S
    response = await client.get("/live/startover/master.m3u8?channel=news", allow_redirects=False)
    assert response.status == 302
    start_ms = (T0 + 180 * S) // 1000
    assert response.headers["Location"] == f"/live/program/{start_ms}/master.m3u8?channel=news"


async def test_start_over_during_the_slate_is_a_404(client: TestClient, clock: ManualClock) -> None:
    clock.instant_us = T0 + 230 * S
    response = await client.get("/live/startover/master.m3u8?channel=news")
    assert response.status == 404


def _program_url(start_s: int) -> str:
    return f"/live/program/{(T0 + start_s * S) // 1000}/360p.m3u8?channel=news"


async def test_a_start_over_playlist_begins_at_the_programs_first_segment(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 189 * S
    text = await _text(client, _program_url(180))
    parsed = parse_media_playlist(text)
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text
    assert [s.uri.rsplit("/", 1)[-1] for s in parsed.segments] == [
        "0000.ts",
        "0001.ts",
        "0002.ts",
        "0003.ts",
    ]


async def test_a_start_over_playlist_grows_and_then_ends(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 183 * S
    previous, violations, texts = None, [], []
    for _ in range(12):
        text = await _text(client, _program_url(180))
        parsed = parse_media_playlist(text)
        violations += parsed.violations
        if previous is not None:
            violations += check_reload(previous, parsed)
            assert parsed.media_sequence == previous.media_sequence
        previous, texts = parsed, [*texts, text]
        clock.advance(2 * S)
    assert violations == []
    assert "#EXT-X-ENDLIST" not in texts[0]
    assert texts[-1].endswith("#EXT-X-ENDLIST\n")
    assert previous is not None
    assert len(previous.segments) == 10


async def test_a_program_start_that_is_not_a_program_is_a_404(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 300 * S
    assert (await client.get(_program_url(181))).status == 404


async def test_the_master_of_a_program_that_does_not_exist_is_a_404(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 300 * S
    url = _program_url(181).replace("/360p.m3u8", "/master.m3u8")
    assert (await client.get(url)).status == 404


async def test_a_program_older_than_the_maximum_shift_is_a_400(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = T0 + 86_400 * S + 200 * S
    assert await _field(client, _program_url(180), 400) == "start"


def test_memoised_shifted_rendering_matches_a_fresh_rendering() -> None:
    timelines = load_timelines(PLANS_DIR)
    channels, timeline = Channels(timelines), timelines["sample-cmaf"]
    now, shift = NOW, SIX_HOURS * S
    for _ in range(900):
        served = channels.media_playlist("sample-cmaf", "270p", now, shift).rendered.body
        assert served == render_media_playlist(timeline, live_window(timeline, now - shift), 1)
        now += 2_000_000 + 41_000
