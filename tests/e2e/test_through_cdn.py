"""Viewers through the CloudFront stand-in (nginx) in front of two engine replicas: hls.js
plays, the conformance checker watches, 500 simulated viewers load the origin by at most 1 %,
and a replica killed mid-playback costs the player nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.conformance import watch
from tests.e2e.conftest import CdnStack, Stack, run_cdn_stack
from tests.e2e.test_players import _assert_played, _play_in_hlsjs
from tests.viewers import watch_with_viewers

pytestmark = pytest.mark.e2e


def _as_stack(cdn: CdnStack) -> Stack:
    """The CDN in the engine's place, for the hls.js helpers."""
    return Stack(cdn.cdn, "")


async def test_hlsjs_plays_a_minute_through_the_cdn(cdn_stack: CdnStack) -> None:
    report = await _play_in_hlsjs(_as_stack(cdn_stack), "e2e-ts", 60)
    _assert_played(report, boundaries=3)


async def test_a_channel_watched_through_the_cdn_conforms_for_a_minute(
    cdn_stack: CdnStack,
) -> None:
    async with aiohttp.ClientSession() as session:
        report = await watch(session, cdn_stack.master("e2e-multi"), seconds=60, interval=0.5)
    assert report.violations == []
    assert report.boundaries_crossed >= 4


async def test_five_hundred_viewers_make_at_most_one_percent_of_requests_reach_the_origin(
    cdn_stack: CdnStack,
) -> None:
    """Viewers spread over both variants and both audio languages of e2e-multi (4 media
    playlists): each kept 1 s, so about 4 origin requests a second against 500 a second from
    the viewers (2 playlists every 2 s each)."""
    before = cdn_stack.origin_requests()
    load = await watch_with_viewers(cdn_stack.master("e2e-multi"), viewers=500, seconds=60)
    origin = cdn_stack.origin_requests() - before
    share = origin / load.requests
    print(
        f"\n500 viewers, 60 s: {origin} of {load.requests} requests reached the engines "
        f"({share:.2%}) over {len(load.playlists)} media playlists"
    )
    assert dict(load.statuses) == {200: load.requests}
    assert len(load.playlists) == 4
    assert share <= 0.01


async def test_origin_load_stays_one_request_a_second_per_playlist_whatever_the_viewers(
    cdn_stack: CdnStack,
) -> None:
    """e2e-ts: 500 viewers over 3 muxed variants. Each playlist is kept 1 s (half its 2 s
    target duration), so the engines see about one request a second per playlist."""
    before = cdn_stack.origin_requests()
    load = await watch_with_viewers(cdn_stack.master("e2e-ts"), viewers=500, seconds=30)
    origin = cdn_stack.origin_requests() - before
    print(
        f"\n500 viewers, 30 s, 3 variants: {origin} of {load.requests} requests reached the "
        f"engines ({origin / load.requests:.2%})"
    )
    assert dict(load.statuses) == {200: load.requests}
    assert origin <= 3 * (30 + 2) + 1


async def test_a_replica_killed_during_playback_costs_the_player_nothing(
    tmp_path: Path,
) -> None:
    with run_cdn_stack(tmp_path) as stack:
        async with aiohttp.ClientSession() as session:  # every playlist in the cache once
            for variant in ("master", "360p", "270p", "180p"):
                async with session.get(f"{stack.cdn}/live/{variant}.m3u8?channel=e2e-ts") as r:
                    assert r.status == 200

        async def kill_later() -> None:
            await asyncio.sleep(12)
            stack.processes["engine-1"].kill()

        killer = asyncio.create_task(kill_later())
        report = await _play_in_hlsjs(_as_stack(stack), "e2e-ts", 40)
        await killer
        assert stack.processes["engine-1"].poll() is not None
    assert "Connection refused" in (tmp_path / "cdn.log").read_text()  # the CDN met the dead one
    _assert_played(report, boundaries=2)
