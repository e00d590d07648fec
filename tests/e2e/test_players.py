"""Real HLS clients play live channels from a real engine (all on 127.0.0.1).

hls.js in headless Chromium is the strict client: it checks media and discontinuity sequence
consistency across reloads. ffmpeg and streamlink are tolerant smoke clients.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
import pytest
from playwright.async_api import Page, Route, async_playwright

from tests.conformance import watch
from tests.e2e.conftest import HLS_JS, Stack, require

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # Segments come from another loopback port than the page (the origin, not the engine).
    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,"
    "PrivateNetworkAccessSendPreflights",
]

PLAYER = """<!doctype html><html><body><video id="v" muted playsinline></video>
<script>%s</script>
<script>
const report = {errors: [], buffered: 0, ccs: [], levels: 0, live: null};
window.report = report;
const video = document.getElementById('v');
const hls = new Hls({liveSyncDurationCount: 3});
hls.on(Hls.Events.ERROR, (e, d) => report.errors.push(
  {type: d.type, details: d.details, fatal: d.fatal,
   reason: String(d.reason || (d.error && d.error.message) || '')}));
hls.on(Hls.Events.MANIFEST_PARSED, (e, d) => { report.levels = d.levels.length; });
hls.on(Hls.Events.LEVEL_LOADED, (e, d) => { report.live = d.details.live; });
hls.on(Hls.Events.FRAG_BUFFERED, (e, d) => {
  report.buffered++;
  if (!report.ccs.includes(d.frag.cc)) report.ccs.push(d.frag.cc);
});
hls.loadSource(%s);
hls.attachMedia(video);
video.play();
</script></body></html>"""


@asynccontextmanager
async def player_page(page_url: str, html: str) -> AsyncIterator[tuple[Page, list[str]]]:
    """Headless Chromium showing `html` at page_url; every request must stay on 127.0.0.1
    (others are refused and listed in the second item, which the caller checks)."""
    unexpected: list[str] = []

    async def route(route: Route) -> None:
        url = route.request.url
        if url == page_url:
            await route.fulfill(body=html, content_type="text/html")
        elif urlparse(url).hostname != "127.0.0.1":
            unexpected.append(url)
            await route.abort()
        else:
            await route.continue_()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=require("chromium"), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.route("**/*", route)
            await page.goto(page_url)
            yield page, unexpected
        finally:
            await browser.close()


async def _play_in_hlsjs(
    stack: Stack, channel: str, seconds: int, url: str | None = None
) -> dict[str, Any]:
    """Play a channel's live URL (or `url`) in hls.js for `seconds`; the player's report."""
    html = PLAYER % (HLS_JS.read_text(), json.dumps(url or stack.master(channel)))
    async with player_page(f"{stack.engine}/player.html", html) as (page, unexpected):
        times = []
        for _ in range(seconds // 5):
            await asyncio.sleep(5)
            times.append(await page.evaluate("document.getElementById('v').currentTime"))
        report: dict[str, Any] = await page.evaluate("window.report")
        report["times"] = times
        report["paused"] = await page.evaluate("document.getElementById('v').paused")
    report["unexpected"] = unexpected
    return report


def _assert_played(report: dict[str, Any], boundaries: int) -> None:
    assert report["errors"] == []
    assert report["unexpected"] == []
    assert report["live"] is True
    assert report["levels"] == 3
    assert not report["paused"]
    times = report["times"]
    assert all(later > earlier for earlier, later in pairwise(times)), times
    assert len(report["ccs"]) >= boundaries + 1, report["ccs"]


async def test_hlsjs_plays_a_ts_channel_for_a_minute_across_program_boundaries(
    stack: Stack,
) -> None:
    report = await _play_in_hlsjs(stack, "e2e-ts", 60)
    _assert_played(report, boundaries=3)


async def test_hlsjs_plays_an_fmp4_channel_across_program_boundaries(stack: Stack) -> None:
    report = await _play_in_hlsjs(stack, "e2e-cmaf", 30)
    _assert_played(report, boundaries=2)


async def _shifted(stack: Stack, seconds: int) -> str:
    """The shifted master URL, once the channel has that much history (up to 2 minutes)."""
    media = f"{stack.engine}/live/shift/{seconds}/360p.m3u8?channel=e2e-ts"
    async with aiohttp.ClientSession() as session:
        for _ in range(240):
            async with session.get(media) as response:
                if response.status == 200:
                    return media.replace("/360p.m3u8", "/master.m3u8")
            await asyncio.sleep(0.5)
    raise AssertionError(f"{media} never became available")


async def test_hlsjs_plays_a_shifted_channel(stack: Stack) -> None:
    report = await _play_in_hlsjs(stack, "e2e-ts", 30, await _shifted(stack, 45))
    _assert_played(report, boundaries=2)


async def test_a_shifted_channel_conforms_over_http_for_twenty_seconds(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        url = await _shifted(stack, 50)
        report = await watch(session, url, seconds=20, interval=0.5, shift_s=50)
    assert report.violations == []
    assert report.boundaries_crossed >= 1


async def test_live_channel_conforms_over_http_for_twenty_seconds(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        report = await watch(session, stack.master("e2e-ts"), seconds=20, interval=0.5)
    assert report.violations == []
    assert report.boundaries_crossed >= 1


def test_ffmpeg_reads_the_live_url_for_twenty_seconds(stack: Stack, tmp_path: Path) -> None:
    ffmpeg, ffprobe = require("ffmpeg"), require("ffprobe")
    out = tmp_path / "live.ts"
    result = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            stack.master("e2e-ts"),
            "-map",
            "0:p:0",
            "-t",
            "20",
            "-c",
            "copy",
            str(out),
        ],
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    probe = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(out)],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert float(probe.stdout) >= 19.0


def test_streamlink_reads_the_live_url(stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "streamlink.ts"
    result = subprocess.run(
        [
            require("streamlink"),
            "--hls-live-edge",
            "2",
            "--stream-segmented-duration",
            "8",
            "-f",
            "-o",
            str(out),
            f"hls://{stack.master('e2e-cmaf')}",
            "best",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode()[-2000:]
    assert out.stat().st_size > 50_000
