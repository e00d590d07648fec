"""Shaka Player (pinned in package-lock.json) in headless Chromium plays each channel kind for a
minute through the CloudFront stand-in: TS, CMAF, and the two-language channel with ad breaks,
switching its audio to French mid-stream."""

from __future__ import annotations

import asyncio
import json
from itertools import pairwise
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import REPO, CdnStack
from tests.e2e.test_players import player_page

pytestmark = pytest.mark.e2e

SHAKA = REPO / "node_modules" / "shaka-player" / "dist" / "shaka-player.compiled.js"

PLAYER = """<!doctype html><html><body><video id="v" muted playsinline></video>
<script>%s</script>
<script>
const report = {errors: [], segments: [], loaded: false, live: null};
window.report = report;
const video = document.getElementById('v');
shaka.polyfill.installAll();
const player = new shaka.Player();
window.player = player;
player.addEventListener('error', (event) => report.errors.push(
  {code: event.detail.code, category: event.detail.category, severity: event.detail.severity,
   data: JSON.stringify(event.detail.data).slice(0, 300)}));
player.getNetworkingEngine().registerResponseFilter((type, response) => {
  if (type === shaka.net.NetworkingEngine.RequestType.SEGMENT) {
    report.segments.push(response.uri);
  }
});
window.switchAudio = () => {
  const tracks = player.getAudioTracks();
  player.selectAudioTrack(tracks.find((track) => track.language === 'fr'));
  return tracks.map((track) => track.language);
};
(async () => {
  await player.attach(video);
  try {
    await player.load(%s);
    report.loaded = true;
    report.live = player.isLive();
    video.play();
  } catch (error) {
    report.errors.push({code: error.code, category: error.category, severity: error.severity,
                        data: JSON.stringify(error.data).slice(0, 300)});
  }
})();
</script></body></html>"""


async def _play_in_shaka(
    cdn: CdnStack, channel: str, seconds: int, switch_audio_after: int | None = None
) -> dict[str, Any]:
    html = PLAYER % (SHAKA.read_text(), json.dumps(cdn.master(channel)))
    async with player_page(f"{cdn.cdn}/shaka.html", html) as (page, unexpected):
        times, languages = [], None
        for second in range(0, seconds, 5):
            if switch_audio_after is not None and second == switch_audio_after:
                languages = await page.evaluate("window.switchAudio()")
            await asyncio.sleep(5)
            times.append(await page.evaluate("document.getElementById('v').currentTime"))
        report: dict[str, Any] = await page.evaluate("window.report")
        report["paused"] = await page.evaluate("document.getElementById('v').paused")
    report.update(times=times, languages=languages, unexpected=unexpected)
    return report


def _assets(segments: list[str]) -> list[str]:
    """The asset of each segment URL (/<asset>/<rendition>/<file> on the sample origin)."""
    return [urlparse(url).path.split("/")[1] for url in segments]


def _assert_played(report: dict[str, Any], boundaries: int) -> None:
    assert report["errors"] == []
    assert report["unexpected"] == []
    assert report["loaded"] is True
    assert report["live"] is True
    assert not report["paused"]
    times = report["times"]
    assert all(later > earlier for earlier, later in pairwise(times)), times
    video = [url for url in report["segments"] if "/audio-" not in url and "/subs-" not in url]
    changes = [b for a, b in pairwise(_assets(video)) if a != b]
    assert len(changes) >= boundaries, _assets(video)


async def test_shaka_plays_a_ts_channel_for_a_minute(cdn_stack: CdnStack) -> None:
    _assert_played(await _play_in_shaka(cdn_stack, "e2e-ts", 60), boundaries=4)


async def test_shaka_plays_a_cmaf_channel_for_a_minute(cdn_stack: CdnStack) -> None:
    _assert_played(await _play_in_shaka(cdn_stack, "e2e-cmaf", 60), boundaries=4)


async def test_shaka_plays_the_two_language_channel_and_switches_to_french(
    cdn_stack: CdnStack,
) -> None:
    report = await _play_in_shaka(cdn_stack, "e2e-multi", 60, switch_audio_after=20)
    _assert_played(report, boundaries=4)
    assert sorted(report["languages"]) == ["en", "fr"]
    french = _assets([url for url in report["segments"] if "/audio-fr/" in url])
    assert {"multi-echo", "multi-foxtrot", "slate-multi"} <= set(french), french
