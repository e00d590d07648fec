"""The CloudFront stand-in behaves like the distribution in front of two engine replicas: one
cached copy per path and channel, collapsed requests, errors not kept, compression, and a stale
copy when the engines are gone. Real nginx and engines on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import time
import urllib.request
from pathlib import Path

import aiohttp

from tests.e2e.conftest import CdnStack, run_cdn_stack

MEDIA = "/live/360p.m3u8?channel=e2e-ts"


def _get(url: str, encoding: str = "identity") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_other_query_arguments_share_the_cached_copy(cdn_stack: CdnStack) -> None:
    _get(f"{cdn_stack.cdn}/live/180p.m3u8?channel=e2e-cmaf&session=1")
    _status, headers, _body = _get(f"{cdn_stack.cdn}/live/180p.m3u8?channel=e2e-cmaf&session=2")
    assert headers["X-Cache"] == "HIT from vchannel-cdn"


def test_channels_are_cached_apart(cdn_stack: CdnStack) -> None:
    _s, _h, ts = _get(f"{cdn_stack.cdn}/live/master.m3u8?channel=e2e-ts")
    _s, _h, cmaf = _get(f"{cdn_stack.cdn}/live/master.m3u8?channel=e2e-cmaf")
    assert ts != cmaf


async def test_simultaneous_viewers_of_one_playlist_make_one_origin_request(
    cdn_stack: CdnStack,
) -> None:
    url = f"{cdn_stack.cdn}/live/shift/20/270p.m3u8?channel=e2e-ts"
    before = cdn_stack.origin_requests()
    async with aiohttp.ClientSession() as session:

        async def fetch() -> int:
            async with session.get(url) as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(fetch() for _ in range(40)))
    assert statuses == [200] * 40
    assert cdn_stack.origin_requests() - before <= 2  # one, or two across a second boundary


def test_an_engine_error_is_not_kept(cdn_stack: CdnStack) -> None:
    before = cdn_stack.origin_requests()
    for _ in range(3):
        status, headers, _body = _get(f"{cdn_stack.cdn}/live/360p.m3u8?channel=no-such")
        assert (status, headers["Cache-Control"]) == (404, "no-store")
    assert cdn_stack.origin_requests() - before == 3


def test_a_playlist_is_compressed_for_a_viewer_that_accepts_gzip(cdn_stack: CdnStack) -> None:
    _s, _h, plain = _get(f"{cdn_stack.cdn}{MEDIA}")
    assert len(plain) >= 1_000
    _s, headers, body = _get(f"{cdn_stack.cdn}{MEDIA}", "gzip")
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body).startswith(b"#EXTM3U")


def test_viewers_get_the_last_copy_while_every_engine_is_down(tmp_path: Path) -> None:
    with run_cdn_stack(tmp_path, replicas=1) as stack:
        status, _h, kept = _get(f"{stack.cdn}{MEDIA}")
        assert status == 200
        stack.processes["engine-1"].kill()
        stack.processes["engine-1"].wait(timeout=10)
        time.sleep(2.1)  # past the copy's max-age (1 s, counted in whole seconds)
        answers = [_get(f"{stack.cdn}{MEDIA}") for _ in range(3)]
    assert [status for status, _h, _b in answers] == [200, 200, 200]
    assert {body for _s, _h, body in answers} == {kept}
    assert answers[-1][1]["X-Cache"] == "STALE from vchannel-cdn"
