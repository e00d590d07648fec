"""Parsing HLS VOD playlists into asset indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.hls_vod import VodError, parse_vod, variant_urls
from engine.model import Container

MEDIA = Path(__file__).resolve().parents[2] / "samples" / "media"
BASE = "https://vod.example/"


def _texts(asset: str) -> tuple[str, dict[str, str]]:
    url = f"{BASE}{asset}/master.m3u8"
    master = (MEDIA / asset / "master.m3u8").read_text()
    texts = {url: master}
    for media_url in variant_urls(url, master):
        texts[media_url] = (MEDIA / media_url.removeprefix(BASE)).read_text()
    return url, texts


def test_sample_ts_asset_has_three_aligned_renditions() -> None:
    url, texts = _texts("ts-alpha")
    asset = parse_vod("ts-alpha", url, texts)
    assert [r.name for r in asset.renditions] == ["360p", "270p", "180p"]
    assert asset.duration_us == 20_000_000
    assert asset.container is Container.TS
    assert asset.renditions[2].segments[0].uri == f"{BASE}ts-alpha/180p/seg_000.ts"


def test_sample_fmp4_asset_keeps_its_init_sections() -> None:
    url, texts = _texts("cmaf-delta")
    asset = parse_vod("cmaf-delta", url, texts)
    assert asset.container is Container.FMP4
    assert asset.renditions[0].segments[0].init is not None
    assert asset.renditions[0].segments[0].init.uri == f"{BASE}cmaf-delta/360p/init_0.mp4"


def test_playlist_without_endlist_is_refused() -> None:
    url, texts = _texts("ts-alpha")
    media = f"{BASE}ts-alpha/270p/index.m3u8"
    texts[media] = texts[media].replace("#EXT-X-ENDLIST", "")
    with pytest.raises(VodError, match=r"rendition '270p'.*EXT-X-ENDLIST: missing"):
        parse_vod("ts-alpha", url, texts)


def test_misaligned_renditions_are_named() -> None:
    url, texts = _texts("ts-alpha")
    media = f"{BASE}ts-alpha/180p/index.m3u8"
    texts[media] = texts[media].replace(
        "#EXTINF:2.000000,\nseg_003.ts", "#EXTINF:2.500000,\nseg_003.ts", 1
    )
    with pytest.raises(VodError, match=r"rendition '180p': segment 3: ends at 8\.500 s"):
        parse_vod("ts-alpha", url, texts)


def test_rendition_with_missing_segments_is_named() -> None:
    url, texts = _texts("ts-alpha")
    media = f"{BASE}ts-alpha/360p/index.m3u8"
    texts[media] = texts[media].replace("#EXTINF:2.000000,\nseg_009.ts\n", "")
    with pytest.raises(
        VodError, match=r"rendition '270p'.*has 10 segments and rendition '360p' has 9"
    ):
        parse_vod("ts-alpha", url, texts)


def test_byte_range_without_offset_follows_the_previous_range() -> None:
    url = f"{BASE}single.m3u8"
    text = (
        "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:2\n"
        "#EXTINF:2.0,\n#EXT-X-BYTERANGE:100@0\nall.ts\n"
        "#EXTINF:2.0,\n#EXT-X-BYTERANGE:150\nall.ts\n#EXT-X-ENDLIST\n"
    )
    asset = parse_vod("single", url, {url: text})
    second = asset.renditions[0].segments[1]
    assert second.byterange is not None
    assert (second.byterange.length, second.byterange.offset) == (150, 100)
