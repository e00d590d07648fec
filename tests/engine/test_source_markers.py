"""Ad markers found in source VODs: kept by ingest, stripped or passed through per channel."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from engine.errors import PlanError
from engine.hls_vod import parse_vod
from engine.model import US_PER_S, AdMarkers, AssetIndex, Block, Clip, SourceMarker, SourceMarkers
from engine.render import render_media_playlist
from engine.timeline import Timeline, compile_timeline
from engine.window import live_window
from tests.conformance import parse_media_playlist
from tests.factories import T0, keyed, make_asset, make_plan

S = US_PER_S
URL = "https://vod.example/show/index.m3u8"
SOURCE = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:2.0,
s0.ts
#EXTINF:2.0,
s1.ts
#EXT-X-DATERANGE:ID="ad1",START-DATE="2020-01-01T00:00:04.000Z",PLANNED-DURATION=4.000,SCTE35-OUT=0xFC30
#EXT-X-CUE-OUT:4.000
#EXTINF:2.0,
s2.ts
#EXT-X-CUE-OUT-CONT:ElapsedTime=2.000,Duration=4.000
#EXTINF:2.0,
s3.ts
#EXT-X-DATERANGE:ID="ad1",START-DATE="2020-01-01T00:00:04.000Z",DURATION=4.000,SCTE35-IN=0xFC31
#EXT-X-CUE-IN
#EXTINF:2.0,
s4.ts
#EXTINF:2.0,
s5.ts
#EXT-X-ENDLIST
"""


def _show() -> AssetIndex:
    return parse_vod("show", URL, {URL: SOURCE})


def _timeline(markers: SourceMarkers) -> Timeline:
    assets = {"slate": make_asset("slate", [2 * S] * 3), "show": _show()}
    plan = make_plan([])
    blocks = tuple(Block(T0 + 20 * S * n, Clip("show")) for n in range(20))
    channel = replace(plan.channel, ad_markers=AdMarkers(source_markers=markers))
    return compile_timeline(replace(plan, channel=channel, blocks=blocks), keyed(assets))


def _text(timeline: Timeline, now_us: int) -> str:
    return render_media_playlist(timeline, live_window(timeline, now_us), 0).decode()


def test_ingest_keeps_the_markers_with_their_segments() -> None:
    found = [(m.segment, m.tag.split(":")[0]) for m in _show().markers]
    assert found == [
        (2, "#EXT-X-DATERANGE"),
        (2, "#EXT-X-CUE-OUT"),
        (3, "#EXT-X-CUE-OUT-CONT"),
        (4, "#EXT-X-DATERANGE"),
        (4, "#EXT-X-CUE-IN"),
    ]


def test_a_channel_strips_source_markers_by_default() -> None:
    text = _text(_timeline(SourceMarkers.STRIP), T0 + 12 * S)
    assert "#EXT-X-CUE" not in text
    assert "#EXT-X-DATERANGE" not in text


def test_passed_cue_tags_stand_before_the_same_segments() -> None:
    lines = _text(_timeline(SourceMarkers.PASS), T0 + 12 * S).splitlines()
    cue_out = lines.index("#EXT-X-CUE-OUT:4.000")
    assert next(line for line in lines[cue_out:] if not line.startswith("#")).endswith("s2.ts")
    cue_in = lines.index("#EXT-X-CUE-IN")
    assert next(line for line in lines[cue_in:] if not line.startswith("#")).endswith("s4.ts")


def _dateranges(text: str) -> list[dict[str, str]]:
    found = re.findall(r"^#EXT-X-DATERANGE:(.*)$", text, re.MULTILINE)
    return [dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', f)) for f in found]


def test_a_passed_daterange_is_dated_to_its_airing_and_named_for_it() -> None:
    timeline = _timeline(SourceMarkers.PASS)
    out, back = _dateranges(_text(timeline, T0 + 12 * S))
    aired_ms = (T0 + 4 * S) // 1000
    assert out["ID"] == back["ID"] == f'"ad1-{aired_ms}"'
    assert out["START-DATE"] == back["START-DATE"] == '"2027-01-01T00:00:04.000Z"'
    assert (out["SCTE35-OUT"], back["SCTE35-IN"]) == ("0xFC30", "0xFC31")


def test_each_airing_of_an_asset_has_its_own_daterange_id() -> None:
    timeline = _timeline(SourceMarkers.PASS)
    first = _dateranges(_text(timeline, T0 + 12 * S))[0]["ID"]
    second = _dateranges(_text(timeline, T0 + 32 * S))[0]["ID"]
    assert first != second


def test_passed_markers_keep_the_playlist_conformant() -> None:
    timeline = _timeline(SourceMarkers.PASS)
    for step in range(100):
        assert parse_media_playlist(_text(timeline, T0 + 12 * S + step * S)).violations == []


def test_a_marker_beyond_the_segments_is_refused() -> None:
    with pytest.raises(PlanError) as error:
        replace(_show(), markers=(SourceMarker(6, "#EXT-X-CUE-IN"),))
    assert error.value.field == "markers.0.segment"
