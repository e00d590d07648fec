"""Ad breaks on events and the channel break rule; audio and subtitle tracks on channels;
on SQLite and PostgreSQL, through the REST API and the plan feed."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from aiohttp.test_utils import TestClient

from common.instants import format_date
from engine.plan_format import AssetIndexModel, PlanModel
from engine.timeline import compile_timeline
from tests.schedule_api.conftest import ingest, now_us, problem

S = 1_000_000
HOUR = 3600 * S
TRACKS = {
    "audio_tracks": [
        {"name": "audio-en", "language": "en", "label": "English", "default": True},
        {"name": "audio-fr", "language": "fr", "label": "Francais"},
    ],
    "subtitle_tracks": [{"name": "subs-en", "language": "en", "label": "English"}],
}


async def _channel(api: TestClient, origin: str, **extra: Any) -> None:
    await ingest(api, origin, "slate-ts", "slate")
    await ingest(api, origin, "ts-alpha", "ts-alpha")
    body = {"id": "news", "name": "News", "slate": "slate", **extra}
    response = await api.post("/channels", json=body)
    assert response.status == 201, await response.text()


async def _multi_channel(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "slate-multi", "slate")
    await ingest(api, origin, "multi-echo", "echo")
    body = {"id": "multi", "name": "Multi", "slate": "slate", **TRACKS}
    response = await api.post("/channels", json=body)
    assert response.status == 201, await response.text()


def _at(api: TestClient, seconds: float) -> str:
    return format_date(now_us(api) + round(seconds * S))


async def _event(api: TestClient, channel: str = "news", **body: Any) -> dict[str, Any]:
    response = await api.post(f"/channels/{channel}/events", json=body)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def _plan(api: TestClient, channel: str) -> PlanModel:
    feed = await (await api.get("/plans", params={"since": "0"})).json()
    (plan,) = [p for p in feed["plans"] if p["channel"]["id"] == channel]
    return PlanModel.model_validate(plan)


async def test_an_event_break_is_snapped_and_lengthens_the_event(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    breaks = [{"offset_seconds": 7.1, "duration_seconds": 30}]
    event = await _event(api, asset="ts-alpha", start=_at(api, 60), breaks=breaks)
    assert event["breaks"] == [{"offset_seconds": 8.0, "duration_seconds": 30.0, "at_segment": 4}]
    assert event["duration_seconds"] == 50.0


async def test_a_break_past_the_clip_is_a_422_naming_it(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    breaks = [
        {"offset_seconds": 0, "duration_seconds": 5},
        {"offset_seconds": 21, "duration_seconds": 5},
    ]
    response = await api.post(
        "/channels/news/events", json={"asset": "ts-alpha", "start": _at(api, 60), "breaks": breaks}
    )
    await problem(response, 422, "breaks.1.offset_seconds")


async def test_two_breaks_on_one_boundary_are_a_422(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    breaks = [
        {"offset_seconds": 4, "duration_seconds": 5},
        {"offset_seconds": 4.5, "duration_seconds": 5},
    ]
    response = await api.post(
        "/channels/news/events", json={"asset": "ts-alpha", "start": _at(api, 60), "breaks": breaks}
    )
    await problem(response, 422, "breaks.1.offset_seconds")


async def test_the_plan_feed_carries_the_breaks_and_the_engine_airs_them(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    start = now_us(api) + 60 * S
    breaks = [{"offset_seconds": 8, "duration_seconds": 6}]
    await _event(api, asset="ts-alpha", start=format_date(start), breaks=breaks)
    plan = await _plan(api, "news")
    assert [(b.at_segment, b.duration) for b in plan.blocks[0].breaks] == [(4, 6.0)]
    assets = {}
    for key in ("slate", "ts-alpha"):
        body = await (await api.get(f"/assets/{key}/index")).json()
        index = AssetIndexModel.model_validate(body).to_core()
        assets[index.key] = index
    compiled = compile_timeline(plan.to_core(), assets)
    (aired,) = compiled.breaks
    assert (aired.start_us - start, aired.duration_us) == (8 * S, 6 * S)


async def test_the_channel_rule_gives_new_events_a_break_after_the_program(
    api: TestClient, origin: str
) -> None:
    rule = {"duration_seconds": 10, "after_programs": True}
    await _channel(api, origin, break_rule=rule)
    event = await _event(api, asset="ts-alpha", start=_at(api, 60))
    assert event["breaks"] == [{"offset_seconds": 20.0, "duration_seconds": 10.0, "at_segment": 10}]
    assert event["duration_seconds"] == 30.0


async def test_an_empty_break_list_overrides_the_channel_rule(api: TestClient, origin: str) -> None:
    await _channel(api, origin, break_rule={"duration_seconds": 10, "after_programs": True})
    event = await _event(api, asset="ts-alpha", start=_at(api, 60), breaks=[])
    assert (event["breaks"], event["duration_seconds"]) == ([], 20.0)


async def test_a_break_rule_needs_a_place(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "slate-ts", "slate")
    body = {"id": "news", "name": "N", "slate": "slate", "break_rule": {"duration_seconds": 5}}
    await problem(await api.post("/channels", json=body), 422, "break_rule")


async def test_a_loop_rule_spaces_its_events_by_program_and_break(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin, break_rule={"duration_seconds": 10, "after_programs": True})
    body = {"kind": "loop", "play": {"assets": ["ts-alpha"]}, "horizon_hours": 1}
    response = await api.post("/channels/news/rules", json=body)
    assert response.status == 201, await response.text()
    params = {"start": _at(api, -60), "end": _at(api, 7200), "limit": "500"}
    events = (await (await api.get("/channels/news/events", params=params)).json())["items"]
    assert len(events) >= 5
    assert all(e["duration_seconds"] == 30.0 and len(e["breaks"]) == 1 for e in events)
    assert all(b["start_ms"] == a["end_ms"] for a, b in pairwise(events))


async def test_a_replacing_event_shortens_a_program_and_drops_its_later_breaks(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    start = now_us(api) + 60 * S
    breaks = [
        {"offset_seconds": 4, "duration_seconds": 10},
        {"offset_seconds": 16, "duration_seconds": 10},
    ]
    first = await _event(api, asset="ts-alpha", start=format_date(start), breaks=breaks)
    await _event(api, asset="ts-alpha", start=format_date(start + 20 * S), replace=True, breaks=[])
    shortened = await (await api.get(f"/channels/news/events/{first['id']}")).json()
    assert [b["offset_seconds"] for b in shortened["breaks"]] == [4.0]
    assert shortened["duration_seconds"] == 20.0


async def test_updating_an_event_keeps_its_breaks_unless_given(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    breaks = [{"offset_seconds": 4, "duration_seconds": 10}]
    event = await _event(api, asset="ts-alpha", start=_at(api, 60), breaks=breaks)
    response = await api.patch(f"/channels/news/events/{event['id']}", json={"title": "Renamed"})
    assert response.status == 200, await response.text()
    assert (await response.json())["breaks"] == event["breaks"]


async def test_the_splice_command_is_fixed_for_life(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    body = {"ad_markers": {"splice_command": "time_signal"}}
    await problem(await api.patch("/channels/news", json=body), 422, "ad_markers.splice_command")


async def test_cue_tags_can_be_turned_on(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    response = await api.patch("/channels/news", json={"ad_markers": {"cue_tags": True}})
    assert response.status == 200, await response.text()
    assert (await _plan(api, "news")).channel.ad_markers.cue_tags is True


async def test_a_channel_with_audio_tracks_needs_a_demuxed_slate(
    api: TestClient, origin: str
) -> None:
    await ingest(api, origin, "slate-ts", "slate")
    body = {"id": "multi", "name": "Multi", "slate": "slate", **TRACKS}
    detail = await problem(await api.post("/channels", json=body), 422, "audio_tracks")
    assert "needs demuxed audio" in detail


async def test_a_demuxed_channel_refuses_an_asset_with_muxed_audio(
    api: TestClient, origin: str
) -> None:
    await _multi_channel(api, origin)
    await ingest(api, origin, "cmaf-delta", "delta")
    response = await api.post(
        "/channels/multi/events", json={"asset": "delta", "start": _at(api, 60)}
    )
    assert "no separate audio track" in await problem(response, 422, "asset")


async def test_the_feed_carries_the_channel_tracks(api: TestClient, origin: str) -> None:
    await _multi_channel(api, origin)
    channel = (await _plan(api, "multi")).channel
    assert [t.language for t in channel.audio_tracks] == ["en", "fr"]
    assert [t.name for t in channel.subtitle_tracks] == ["subs-en"]


async def test_audio_tracks_may_not_go_from_some_to_none(api: TestClient, origin: str) -> None:
    await _multi_channel(api, origin)
    response = await api.patch("/channels/multi", json={"audio_tracks": []})
    await problem(response, 422, "audio_tracks")


async def test_a_track_may_not_take_a_variant_name(api: TestClient, origin: str) -> None:
    await _multi_channel(api, origin)
    body = {"subtitle_tracks": [{"name": "360p", "language": "de", "label": "Deutsch"}]}
    await problem(await api.patch("/channels/multi", json=body), 422, "subtitle_tracks")


async def test_breaks_avoid_splitting_a_subtitle_segment(api: TestClient, origin: str) -> None:
    await _multi_channel(api, origin)
    breaks = [{"offset_seconds": 8, "duration_seconds": 4}]  # subtitles change at 6 s, 12 s
    event = await _event(api, "multi", asset="echo", start=_at(api, 60), breaks=breaks)
    assert event["breaks"][0]["offset_seconds"] == 6.0


async def test_a_new_audio_track_may_not_take_a_subtitle_track_name(
    api: TestClient, origin: str
) -> None:
    await _multi_channel(api, origin)
    body = {"audio_tracks": [{"name": "subs-en", "language": "en", "label": "English"}]}
    await problem(await api.patch("/channels/multi", json=body), 422, "audio_tracks")


async def test_an_asset_lists_its_audio_and_subtitle_tracks(api: TestClient, origin: str) -> None:
    asset = await ingest(api, origin, "multi-echo", "echo")
    tracks = [
        (r["type"], r["name"], r["language"], r["default"])
        for r in asset["renditions"]
        if r["type"] != "VIDEO"
    ]
    assert tracks == [
        ("AUDIO", "audio-en", "en", True),
        ("AUDIO", "audio-fr", "fr", False),
        ("SUBTITLES", "subs-en", "en", False),
        ("SUBTITLES", "subs-fr", "fr", False),
    ]


async def test_two_audio_tracks_of_one_language_are_a_422(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "slate-multi", "slate")
    tracks = [
        {"name": "audio-en", "language": "en", "label": "English"},
        {"name": "audio-en2", "language": "en", "label": "English again"},
    ]
    body = {"id": "multi", "name": "Multi", "slate": "slate", "audio_tracks": tracks}
    detail = await problem(await api.post("/channels", json=body), 422, "audio_tracks")
    assert "one language" in detail
