"""Rendered playlists: golden files for the sample assets, and the tag rules one by one.

Regenerate the golden files with UPDATE_GOLDEN=1 after an intended change, and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.instants import format_date
from engine.model import (
    US_PER_S,
    AssetIndex,
    ByteRange,
    Checkpoint,
    Container,
    Key,
    Plan,
    ProfileEntry,
    Rendition,
    Segment,
    SegmentTable,
)
from engine.plan_format import load_asset_file
from engine.render import (
    format_duration,
    render_media_playlist,
    render_multivariant_playlist,
)
from engine.timeline import compile_timeline
from engine.window import live_window
from tests.factories import T0, keyed, make_asset, make_plan

GOLDEN = Path(__file__).parent / "golden"
SAMPLE_ASSETS = Path(__file__).resolve().parents[2] / "samples" / "plans" / "assets"
S = US_PER_S


SAMPLE_PROFILE = (
    ProfileEntry("360p", 365_200, "avc1.4d401e,mp4a.40.2", (640, 360), 25.0),
    ProfileEntry("270p", 233_200, "avc1.4d4015,mp4a.40.2", (480, 270), 25.0),
    ProfileEntry("180p", 134_200, "avc1.4d400c,mp4a.40.2", (320, 180), 25.0),
)


def _sample_assets() -> dict[str, AssetIndex]:
    return {p.stem: load_asset_file(p) for p in SAMPLE_ASSETS.glob("*.json")}


def _sample_plan(blocks: list[tuple[int, str, int, int | None]], slate: str, name: str) -> Plan:
    return make_plan(blocks, slate=slate, channel_id=name, window_us=20 * S, profile=SAMPLE_PROFILE)


def _check_golden(name: str, body: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(body)
    assert body.decode() == path.read_text()


def test_ts_channel_with_a_slate_gap_matches_golden() -> None:
    assets = _sample_assets()
    plan = _sample_plan(
        [(T0, "ts-alpha", 0, 5), (T0 + 14 * S, "ts-bravo", 0, None)], "slate-ts", "golden-ts"
    )
    timeline = compile_timeline(plan, keyed(assets))
    window = live_window(timeline, T0 + 22 * S)
    _check_golden("ts_slate_gap_270p.m3u8", render_media_playlist(timeline, window, 1))


def test_fmp4_channel_with_a_slate_gap_and_a_seamless_join_matches_golden() -> None:
    assets = _sample_assets()
    plan = _sample_plan(
        [
            (T0, "cmaf-delta", 0, 2),
            (T0 + 4 * S, "cmaf-delta", 2, 4),
            (T0 + 12 * S, "cmaf-delta", 4, None),
        ],
        "slate-cmaf",
        "golden-cmaf",
    )
    timeline = compile_timeline(plan, keyed(assets))
    window = live_window(timeline, T0 + 20 * S)
    _check_golden("cmaf_slate_gap_360p.m3u8", render_media_playlist(timeline, window, 0))


def test_multivariant_playlist_matches_golden() -> None:
    assets = _sample_assets()
    plan = _sample_plan([(T0, "ts-alpha", 0, None)], "slate-ts", "golden-ts")
    timeline = compile_timeline(plan, keyed(assets))
    body = render_multivariant_playlist(timeline, lambda name: f"{name}.m3u8?channel=golden-ts")
    _check_golden("multivariant.m3u8", body)


@pytest.mark.parametrize(
    ("duration_us", "text"),
    [(2 * S, "2.000"), (2_002_000, "2.002"), (1_920_000, "1.920"), (2_002_002, "2.002002")],
)
def test_extinf_prints_microseconds_exactly(duration_us: int, text: str) -> None:
    assert format_duration(duration_us) == text


def test_program_date_time_has_milliseconds_and_zone() -> None:
    assert format_date(T0 + 2_002_999) == "2027-01-01T00:00:02.002Z"


def _render_at(
    assets: dict[str, AssetIndex], blocks: list[tuple[int, str]], now: int, window_s: int = 8
) -> str:
    plan = make_plan(blocks, window_us=window_s * S)
    timeline = compile_timeline(plan, keyed(assets))
    return render_media_playlist(timeline, live_window(timeline, now), 0).decode()


def _keyed(asset_id: str, key: Key | None, count: int = 3) -> AssetIndex:
    asset = make_asset(asset_id, [2 * S] * count)
    renditions = tuple(
        Rendition(
            name=r.name,
            bandwidth=r.bandwidth,
            codecs=r.codecs,
            resolution=r.resolution,
            segments=SegmentTable.of(
                [
                    Segment(s.uri, s.duration_us, ByteRange(1000, 1000 * i), None, key)
                    for i, s in enumerate(r.segments)
                ]
            ),
        )
        for r in asset.renditions
    )
    return AssetIndex(asset.id, 1, asset.url, Container.TS, True, renditions)


def test_key_is_restated_after_a_discontinuity_and_ended_with_method_none() -> None:
    key = Key("AES-128", "https://keys.example/k1", "0x00000000000000000000000000000001")
    assets = {
        "enc": _keyed("enc", key),
        "clear": _keyed("clear", None),
        "slate": make_asset("slate", [2 * S]),
    }
    text = _render_at(
        assets, [(T0, "enc"), (T0 + 6 * S, "enc"), (T0 + 12 * S, "clear")], T0 + 16 * S, 12
    )
    lines = text.splitlines()
    keys = [i for i, line in enumerate(lines) if line.startswith("#EXT-X-KEY")]
    assert [lines[i] for i in keys] == [
        '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k1",'
        "IV=0x00000000000000000000000000000001",
        '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k1",'
        "IV=0x00000000000000000000000000000001",
        "#EXT-X-KEY:METHOD=NONE",
    ]
    assert all(lines[i - 1] == "#EXT-X-DISCONTINUITY" for i in keys[1:])


def test_byte_ranges_carry_explicit_offsets_and_need_version_4() -> None:
    assets = {"enc": _keyed("enc", None), "slate": make_asset("slate", [2 * S])}
    text = _render_at(assets, [(T0, "enc"), (T0 + 6 * S, "enc")], T0 + 10 * S)
    assert "#EXT-X-VERSION:4" in text
    assert "#EXT-X-BYTERANGE:1000@2000" in text


def test_init_section_is_restated_after_every_discontinuity() -> None:
    assets = {
        "show": make_asset("show", [2 * S] * 2, container=Container.FMP4),
        "slate": make_asset("slate", [2 * S], container=Container.FMP4),
    }
    text = _render_at(assets, [(T0, "show"), (T0 + 4 * S, "show")], T0 + 8 * S)
    lines = text.splitlines()
    maps = [i for i, line in enumerate(lines) if line.startswith("#EXT-X-MAP")]
    assert len(maps) == 2
    assert lines[maps[1] - 1] == "#EXT-X-DISCONTINUITY"
    assert "#EXT-X-VERSION:6" in text


def test_live_playlist_has_no_playlist_type_and_no_endlist() -> None:
    assets = {"show": make_asset("show", [2 * S] * 5), "slate": make_asset("slate", [2 * S])}
    text = _render_at(assets, [(T0, "show")], T0 + 9 * S)
    assert "PLAYLIST-TYPE" not in text
    assert "ENDLIST" not in text


def test_first_listed_segment_with_a_discontinuity_lowers_the_sequence_by_one() -> None:
    assets = {"show": make_asset("show", [2 * S] * 3), "slate": make_asset("slate", [2 * S])}
    plan = make_plan(
        [(T0, "show"), (T0 + 6 * S, "show")], window_us=6 * S, checkpoint=Checkpoint(T0, 0, 5)
    )
    timeline = compile_timeline(plan, keyed(assets))
    text = render_media_playlist(timeline, live_window(timeline, T0 + 12 * S), 0).decode()
    lines = text.splitlines()
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:5" in lines
    assert lines[lines.index("#EXT-X-INDEPENDENT-SEGMENTS") + 1] == "#EXT-X-DISCONTINUITY"
