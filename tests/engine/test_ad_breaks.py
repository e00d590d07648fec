"""Ad breaks: layout in the timeline, SCTE-35 payloads, EXT-X-DATERANGE and CUE tags."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from threefive import Cue

from engine.channels import Channels
from engine.errors import PlanError
from engine.model import US_PER_S, AdMarkers, Block, Break, Clip, SpliceCommand
from engine.render import render_media_playlist
from engine.timeline import GroupKind, Timeline, compile_timeline
from engine.window import live_window
from tests.conformance import check_reload, parse_media_playlist
from tests.factories import T0, keyed, make_asset, make_plan

S = US_PER_S
ASSETS = keyed(
    {
        "slate": make_asset("slate", [2 * S] * 3),
        "show": make_asset("show", [2 * S] * 10),
    }
)
DATERANGE = re.compile(r"^#EXT-X-DATERANGE:(.*)$", re.MULTILINE)
ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def _timeline(
    breaks: tuple[Break, ...] = (Break(3, 6 * S),),
    markers: AdMarkers | None = None,
    every_s: int = 60,
) -> Timeline:
    """A 20 s program every `every_s` seconds for an hour, each with the given breaks."""
    plan = make_plan([])
    blocks = tuple(
        Block(T0 + every_s * S * n, Clip("show"), f"event-{n}", breaks) for n in range(60)
    )
    channel = plan.channel if markers is None else replace(plan.channel, ad_markers=markers)
    return compile_timeline(replace(plan, channel=channel, blocks=blocks), ASSETS)


def _playlist(timeline: Timeline, now_us: int) -> str:
    return render_media_playlist(timeline, live_window(timeline, now_us), 0).decode()


def _dateranges(text: str) -> list[dict[str, str]]:
    return [dict(ATTRIBUTE.findall(found)) for found in DATERANGE.findall(text)]


def test_a_break_plays_the_slate_between_the_program_parts() -> None:
    timeline = _timeline()
    kinds = [(g.kind, g.start_us - T0) for g in timeline.groups[:4]]
    assert kinds == [
        (GroupKind.BLOCK, 0),
        (GroupKind.BREAK, 6 * S),
        (GroupKind.BLOCK, 12 * S),
        (GroupKind.SLATE, 26 * S),
    ]


def test_a_break_is_recorded_with_its_aired_and_planned_length() -> None:
    first = _timeline().breaks[0]
    assert (first.start_us - T0, first.duration_us, first.planned_duration_us) == (
        6 * S,
        6 * S,
        6 * S,
    )
    assert first.id == f"break-{(T0 + 6 * S) // 1000}"


def test_the_next_program_cuts_a_break_that_overruns() -> None:
    timeline = _timeline(breaks=(Break(10, 30 * S),), every_s=40)
    ad = timeline.breaks[0]
    assert (ad.start_us - T0, ad.end_us - T0, ad.planned_duration_us) == (20 * S, 40 * S, 30 * S)


def test_a_break_outside_the_clip_names_the_field() -> None:
    with pytest.raises(PlanError) as error:
        _timeline(breaks=(Break(11, 6 * S),))
    assert error.value.field == "breaks.0.at_segment"


def test_breaks_out_of_order_name_the_later_one() -> None:
    with pytest.raises(PlanError) as error:
        _timeline(breaks=(Break(5, 6 * S), Break(2, 6 * S)))
    assert error.value.field == "breaks.1.at_segment"


def test_the_out_daterange_carries_a_splice_insert_out_with_the_planned_duration() -> None:
    timeline = _timeline()
    text = _playlist(timeline, T0 + 12 * S)  # the window: 0 s to 12 s, the break from 6 s
    (out,) = _dateranges(text)
    assert out["PLANNED-DURATION"] == "6.000"
    cue = Cue(out["SCTE35-OUT"])
    cue.decode()
    assert cue.command.name == "Splice Insert"
    assert cue.command.out_of_network_indicator is True
    assert cue.command.break_duration == 6.0
    assert cue.command.splice_event_id == timeline.breaks[0].splice_event_id


def test_the_in_daterange_carries_a_splice_insert_in_with_the_same_event_id() -> None:
    timeline = _timeline()
    text = _playlist(timeline, T0 + 16 * S)
    found = {d.get("SCTE35-IN") is not None: d for d in _dateranges(text)}
    cue = Cue(found[True]["SCTE35-IN"])
    cue.decode()
    assert cue.command.out_of_network_indicator is False
    assert cue.command.splice_event_id == timeline.breaks[0].splice_event_id
    assert found[True]["DURATION"] == "6.000"


def test_time_signal_breaks_carry_placement_opportunity_start_and_end() -> None:
    timeline = _timeline(markers=AdMarkers(SpliceCommand.TIME_SIGNAL))
    tags = _dateranges(_playlist(timeline, T0 + 16 * S))
    decoded = []
    for tag in tags:
        cue = Cue(tag.get("SCTE35-OUT") or tag["SCTE35-IN"])
        cue.decode()
        (descriptor,) = cue.descriptors
        decoded.append(
            (
                cue.command.name,
                descriptor.segmentation_type_id,
                int(descriptor.segmentation_event_id, 16),
                descriptor.segmentation_duration,
            )
        )
    event_id = timeline.breaks[0].splice_event_id
    assert decoded == [
        ("Time Signal", 0x34, event_id, 6.0),
        ("Time Signal", 0x35, event_id, None),
    ]


def test_the_out_tag_is_written_before_the_first_slate_segment() -> None:
    lines = _playlist(_timeline(), T0 + 12 * S).splitlines()
    out = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-DATERANGE"))
    uri = next(line for line in lines[out:] if not line.startswith("#"))
    assert "/slate/" in uri
    assert "/show/" in [line for line in lines[:out] if not line.startswith("#")][-1]


def test_a_window_that_starts_inside_a_break_states_its_out() -> None:
    timeline = _timeline(breaks=(Break(3, 20 * S),))
    text = _playlist(timeline, T0 + 24 * S)  # the window starts at 12 s, inside the break
    assert parse_media_playlist(text).segments[0].uri.count("/slate/") == 1
    assert [t.get("SCTE35-OUT") is not None for t in _dateranges(text)] == [True]


def test_cue_tags_mark_out_continuation_and_in() -> None:
    timeline = _timeline(markers=AdMarkers(cue_tags=True))
    text = _playlist(timeline, T0 + 16 * S)
    cue_lines = [line for line in text.splitlines() if line.startswith("#EXT-X-CUE")]
    assert [line.split(":")[0] for line in cue_lines] == [
        "#EXT-X-CUE-OUT",
        "#EXT-X-CUE-OUT-CONT",
        "#EXT-X-CUE-OUT-CONT",
        "#EXT-X-CUE-IN",
    ]
    assert cue_lines[0] == "#EXT-X-CUE-OUT:6.000"
    assert cue_lines[2].startswith("#EXT-X-CUE-OUT-CONT:ElapsedTime=4.000,Duration=6.000,SCTE35=")


def test_dateranges_keep_their_ids_and_attributes_across_a_thousand_reloads() -> None:
    """RFC 8216 4.3.2.7: one ID, one value per attribute; every playlist with a DATERANGE has
    PROGRAM-DATE-TIME; and every reload conforms."""
    timeline = _timeline(markers=AdMarkers(SpliceCommand.TIME_SIGNAL, cue_tags=True), every_s=40)
    seen: dict[str, dict[str, str]] = {}
    starts: dict[str, str] = {}
    previous = None
    for step in range(1000):
        text = _playlist(timeline, T0 + 12 * S + step * 700_000)
        parsed = parse_media_playlist(text)
        assert parsed.violations == []
        if previous is not None:
            assert check_reload(previous, parsed) == []
        previous = parsed
        for tag in _dateranges(text):
            assert "#EXT-X-PROGRAM-DATE-TIME" in text
            known = seen.setdefault(tag["ID"], {})
            for name, value in tag.items():
                assert known.setdefault(name, value) == value, (tag["ID"], name)
            starts.setdefault(tag["START-DATE"], tag["ID"])
            assert starts[tag["START-DATE"]] == tag["ID"]
    assert len(seen) >= 15
    assert all("SCTE35-OUT" in tags and "SCTE35-IN" in tags for tags in seen.values())


def test_a_program_that_opens_with_a_break_starts_with_it() -> None:
    timeline = _timeline(breaks=(Break(0, 4 * S),))
    first = timeline.groups[0]
    assert (first.kind, first.is_program_start, first.start_us) == (GroupKind.BREAK, True, T0)
    assert len(timeline.block_groups(0)) == 2


def test_start_over_plays_a_program_with_its_breaks_to_the_end() -> None:
    channels = Channels({"test": _timeline()})
    start_ms = channels.current_program_start_ms("test", T0 + 9 * S)  # inside the break
    assert start_ms == T0 // 1000
    playlist = channels.program_playlist("test", "720p", start_ms, T0 + 40 * S)
    parsed = parse_media_playlist(playlist.rendered.body.decode())
    assert parsed.ended
    assert sum(s.duration for s in parsed.segments) == 26.0  # 20 s of program, a 6 s break
