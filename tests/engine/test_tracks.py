"""Demuxed audio and WebVTT subtitle tracks: ingest, mapping by language, playlists."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from common.clock import ManualClock
from common.instants import to_us
from engine.app import create_app, load_timelines
from engine.channels import Channels
from engine.compaction import compact, compaction_point
from engine.errors import PlanError
from engine.hls_vod import VodError, parse_vod
from engine.model import US_PER_S, AssetIndex, Block, Break, Clip, TrackSpec, TrackType
from engine.plan_format import load_plan_directory
from engine.render import render_multivariant_playlist
from engine.settings import EngineSettings
from engine.timeline import compile_timeline
from tests.conformance import check_reload, check_variants, parse_media_playlist
from vchannel.samples import CHECKPOINT, MEDIA_DIR, PLANS_DIR, index_local_vod

S = US_PER_S
NOW = to_us(CHECKPOINT) + 86_400 * S + 345_678
BASE = "http://127.0.0.1:8080/"


def _assets() -> dict[tuple[str, int], AssetIndex]:
    return load_plan_directory(PLANS_DIR)[1]


def _channels() -> Channels:
    """sample-multi, and multi-breaks: Program E with a 6 s break after 6 s, then Program F
    (subtitled) and the slate (not subtitled), in a loop every 40 s."""
    plans, assets = load_plan_directory(PLANS_DIR)
    multi = next(plan for _, plan in plans if plan.channel.id == "sample-multi")
    start = NOW - 3600 * S
    blocks = []
    for n in range(200):
        blocks.append(Block(start + 40 * n * S, Clip("multi-echo"), "", (Break(3, 6 * S),)))
        blocks.append(Block(start + (40 * n + 24) * S, Clip("multi-foxtrot", 0, 6)))
    breaks = replace(
        multi,
        channel=replace(multi.channel, id="multi-breaks"),
        blocks=tuple(blocks),
        filler=(),
    )
    timelines = {p.channel.id: compile_timeline(p, assets) for _, p in plans}
    timelines["multi-breaks"] = compile_timeline(breaks, assets)
    return Channels(timelines)


def _text(channels: Channels, channel: str, name: str, now_us: int = NOW) -> str:
    return channels.media_playlist(channel, name, now_us).rendered.body.decode()


def test_ingest_finds_two_audio_and_two_subtitle_tracks() -> None:
    asset = index_local_vod("multi-echo", MEDIA_DIR, BASE)
    found = [(t.type, t.name, t.language, t.label, t.default) for t in asset.tracks]
    assert found == [
        (TrackType.AUDIO, "audio-en", "en", "English", True),
        (TrackType.AUDIO, "audio-fr", "fr", "Francais", False),
        (TrackType.SUBTITLES, "subs-en", "en", "English", False),
        (TrackType.SUBTITLES, "subs-fr", "fr", "Francais", False),
    ]


def test_subtitle_segments_span_three_video_segments() -> None:
    asset = index_local_vod("multi-echo", MEDIA_DIR, BASE)
    assert asset.track_starts[2] == (0, 3, 6, 9, 12)


def _vod_texts(asset_id: str) -> dict[str, str]:
    url = f"{BASE}{asset_id}/master.m3u8"
    texts = {url: (MEDIA_DIR / asset_id / "master.m3u8").read_text()}
    for path in (MEDIA_DIR / asset_id).glob("*/index.m3u8"):
        texts[f"{BASE}{asset_id}/{path.parent.name}/index.m3u8"] = path.read_text()
    return texts


def test_ingest_names_a_variant_whose_audio_group_is_missing() -> None:
    texts = _vod_texts("multi-echo")
    url = f"{BASE}multi-echo/master.m3u8"
    texts[url] = texts[url].replace('GROUP-ID="group_aud"', 'GROUP-ID="other"')
    with pytest.raises(VodError) as error:
        parse_vod("multi-echo", url, texts)
    assert error.value.field == "AUDIO"
    assert "'group_aud'" in error.value.reason


def test_ingest_names_a_subtitle_segment_that_cannot_be_aligned() -> None:
    texts = _vod_texts("multi-echo")
    playlist = f"{BASE}multi-echo/subs-fr/index.m3u8"
    texts[playlist] = texts[playlist].replace("#EXTINF:6.000000,", "#EXTINF:5.000000,", 1)
    with pytest.raises(PlanError) as error:
        parse_vod("multi-echo", f"{BASE}multi-echo/master.m3u8", texts)
    assert error.value.field == "tracks.subs-fr.segment 0"
    assert "cannot be aligned" in error.value.reason


def test_a_missing_audio_language_falls_back_to_the_default_track() -> None:
    asset = index_local_vod("multi-echo", MEDIA_DIR, BASE)
    german = TrackSpec("audio-de", "de", "Deutsch")
    assert asset.tracks[asset.track_for(german, TrackType.AUDIO) or 0].language == "en"


def test_a_missing_subtitle_language_gets_no_track() -> None:
    asset = index_local_vod("multi-echo", MEDIA_DIR, BASE)
    assert asset.track_for(TrackSpec("subs-de", "de", "Deutsch"), TrackType.SUBTITLES) is None


def test_a_channel_with_audio_tracks_refuses_an_asset_with_muxed_audio() -> None:
    plans, assets = load_plan_directory(PLANS_DIR)
    multi = next(plan for _, plan in plans if plan.channel.id == "sample-multi")
    muxed = replace(multi, filler=(Clip("cmaf-delta"),))
    with pytest.raises(PlanError, match="no separate audio track"):
        compile_timeline(muxed, assets)


def test_the_master_playlist_lists_audio_and_subtitle_groups() -> None:
    timeline = load_timelines(PLANS_DIR)["sample-multi"]
    rendered = render_multivariant_playlist(timeline, lambda name: f"{name}.m3u8")
    lines = rendered.decode().splitlines()
    media = [line for line in lines if line.startswith("#EXT-X-MEDIA:")]
    assert media[0] == (
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="en",NAME="English",DEFAULT=YES,'
        'AUTOSELECT=YES,URI="audio-en.m3u8"'
    )
    assert [m.split(",")[0] for m in media] == ["#EXT-X-MEDIA:TYPE=AUDIO"] * 2 + [
        "#EXT-X-MEDIA:TYPE=SUBTITLES"
    ] * 2
    assert all(
        line.endswith(',AUDIO="audio",SUBTITLES="subs"')
        for line in lines
        if line.startswith("#EXT-X-STREAM-INF")
    )


def test_audio_playlists_agree_with_video_on_sequence_discontinuities_and_dates() -> None:
    channels = _channels()
    playlists = {
        name: parse_media_playlist(_text(channels, "multi-breaks", name))
        for name in ("360p", "180p", "audio-en", "audio-fr")
    }
    assert check_variants(playlists) == []
    assert "/multi-echo/audio-fr/" in _text(channels, "multi-breaks", "audio-fr")


def test_audio_playlists_carry_the_ad_markers() -> None:
    channels = _channels()
    seen = 0
    for step in range(40):
        video = _text(channels, "multi-breaks", "360p", NOW + step * S)
        audio = _text(channels, "multi-breaks", "audio-en", NOW + step * S)
        assert _dateranges(video) == _dateranges(audio)
        seen += len(_dateranges(video))
    assert seen > 0


def _dateranges(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#EXT-X-DATERANGE")]


def _dates(text: str) -> dict[str, int]:
    """PROGRAM-DATE-TIME -> discontinuity number of the segment it dates."""
    parsed = parse_media_playlist(text)
    return {str(s.date): s.dsn for s in parsed.segments}


def test_subtitle_segments_start_on_video_segments_with_their_discontinuity_numbers() -> None:
    channels = _channels()
    for step in range(40):
        now = NOW + step * S
        video = _dates(_text(channels, "multi-breaks", "360p", now))
        subtitles = _dates(_text(channels, "multi-breaks", "subs-en", now))
        shared = set(video) & set(subtitles)
        assert len(shared) >= 2
        assert all(video[date] == subtitles[date] for date in shared)


def test_the_slate_and_breaks_get_empty_webvtt_segments() -> None:
    channels = _channels()
    uris = set()
    for step in range(40):
        text = _text(channels, "multi-breaks", "subs-fr", NOW + step * S)
        uris.update(s.uri for s in parse_media_playlist(text).segments)
    assert "/live/empty.vtt" in uris
    assert any("/multi-echo/subs-fr/" in uri for uri in uris)
    assert any("/multi-foxtrot/subs-fr/" in uri for uri in uris)


def test_subtitle_playlists_conform_over_three_hundred_reloads() -> None:
    channels = _channels()
    previous = None
    for step in range(300):
        text = _text(channels, "multi-breaks", "subs-en", NOW + step * 700_000)
        parsed = parse_media_playlist(text)
        assert parsed.violations == []
        assert parsed.target_duration == 6
        if previous is not None:
            assert check_reload(previous, parsed) == []
        previous = parsed


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    app = create_app(EngineSettings(), timelines=load_timelines(PLANS_DIR), clock=ManualClock(NOW))
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def test_the_engine_serves_the_empty_webvtt_segment_for_ever(client: TestClient) -> None:
    response = await client.get("/live/empty.vtt")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/vtt"
    assert response.headers["Cache-Control"] == "public, max-age=86400, immutable"
    assert (await response.read()).startswith(b"WEBVTT")


async def test_a_shifted_subtitle_playlist_is_the_live_one_of_earlier(client: TestClient) -> None:
    live = await (await client.get("/live/subs-en.m3u8?channel=sample-multi")).read()
    shifted = await (await client.get("/live/shift/600/subs-en.m3u8?channel=sample-multi")).read()
    assert live != shifted
    assert parse_media_playlist(shifted.decode()).violations == []


def test_a_start_over_subtitle_playlist_covers_the_whole_program_and_ends() -> None:
    channels = _channels()
    timeline = channels._get("multi-breaks").timeline
    index = next(
        i
        for i, g in enumerate(timeline.groups)
        if g.is_program_start and g.start_us > NOW - 600 * S
    )
    program = timeline.block_groups(index)
    start_ms = program[0].start_us // 1000
    text = channels.program_playlist("multi-breaks", "subs-en", start_ms, NOW).rendered.body
    parsed = parse_media_playlist(text.decode())
    assert parsed.violations == []
    assert (parsed.playlist_type, parsed.ended) == ("EVENT", True)
    end = program[-1].end_us
    assert end is not None
    listed = sum(round(s.duration * S) for s in parsed.segments)
    assert listed == end - program[0].start_us


def test_a_compacted_plan_serves_the_same_subtitle_playlists() -> None:
    channels = _channels()
    full = channels._get("multi-breaks").timeline
    point = compaction_point(full, NOW - 1800 * S)
    assert point is not None
    assert dict(point.checkpoint.subtitle_sequences)["subs-en"] > 0
    compacted = compile_timeline(compact(full.plan, point), _assets())
    later = Channels({"c": compacted})
    for step in range(0, 600, 7):
        now = NOW + step * S
        for track in ("subs-en", "subs-fr", "360p", "audio-fr"):
            before = channels.media_playlist("multi-breaks", track, now).rendered.body
            assert later.media_playlist("c", track, now).rendered.body == before, (track, step)


async def test_a_subtitle_shift_before_the_history_is_a_400_naming_seconds(
    client: TestClient,
) -> None:
    response = await client.get("/live/shift/86400/subs-en.m3u8?channel=sample-multi")
    assert response.status == 400
    assert (await response.json())["invalid-params"][0]["name"] == "seconds"
