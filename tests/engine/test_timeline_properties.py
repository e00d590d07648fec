"""Properties of the timeline and window over random plans and random instants (hypothesis).

Durations include NTSC-style 2.002 s and 1.92 s; plans include gaps, overlaps, clips, source
discontinuities, slate and filler, and instants up to 40 days after the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.compaction import compact, compaction_point
from engine.errors import NotOnAir
from engine.model import US_PER_S, AssetIndex, Block, Checkpoint, Clip, Plan, rounded_seconds
from engine.render import render_media_playlist
from engine.timeline import GroupKind, Slot, Timeline, compile_timeline, edit_reach_us
from engine.window import Window, live_window
from tests.conformance import check_reload, check_variants, parse_media_playlist
from tests.factories import T0, keyed, make_asset, make_plan

DURATIONS = [1_920_000, 2_002_000, 2_000_000, 1_001_000, 3_000_000, 2_499_999, 1_500_000]
TARGET_DURATION_S = 3
DAY_US = 86_400 * US_PER_S


@dataclass(frozen=True)
class Case:
    timeline: Timeline
    assets: dict[str, AssetIndex]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    assets: dict[str, AssetIndex] = {}
    for index in range(draw(st.integers(1, 4))):
        durations = draw(st.lists(st.sampled_from(DURATIONS), min_size=1, max_size=12))
        discontinuities = draw(st.sets(st.integers(1, max(1, len(durations) - 1)), max_size=2))
        asset = make_asset(f"a{index}", durations, discontinuities=sorted(discontinuities))
        assets[asset.id] = asset
    slate_durations = draw(st.lists(st.sampled_from(DURATIONS), min_size=1, max_size=4))
    assets["slate"] = make_asset("slate", slate_durations)
    checkpoint = Checkpoint(
        T0 + draw(st.integers(0, 10**6)),
        draw(st.integers(0, 10**9)),
        draw(st.integers(0, 10**6)),
    )
    # Blocks within the first hours, and some days later (drift would show there).
    offsets = st.one_of(
        st.integers(0, 600 * US_PER_S),
        st.integers(1, 40).map(lambda days: days * DAY_US + 123_457),
    )
    blocks = []
    ids = [a for a in assets if a != "slate"]
    for _ in range(draw(st.integers(0, 8))):
        asset = assets[draw(st.sampled_from(ids))]
        first = draw(st.integers(0, asset.segment_count - 1))
        end = draw(st.one_of(st.none(), st.integers(first + 1, asset.segment_count)))
        blocks.append(
            Block(checkpoint.time_us + draw(offsets), Clip(asset.id, first, end, title=asset.id))
        )
    filler = tuple(Clip(a) for a in draw(st.lists(st.sampled_from(ids), max_size=2)))
    window_us = draw(st.integers(3 * TARGET_DURATION_S * US_PER_S, 40 * US_PER_S))
    base = make_plan([], slate="slate", target_duration_s=TARGET_DURATION_S, window_us=window_us)
    plan = Plan(base.channel, 1, checkpoint, tuple(blocks), filler)
    return Case(compile_timeline(plan, keyed(assets)), assets)


def _max_segment_us(case: Case) -> int:
    return max(a.max_segment_us() for a in case.assets.values())


def _window_or_none(timeline: Timeline, now_us: int) -> Window | None:
    try:
        return live_window(timeline, now_us)
    except NotOnAir:
        return None


def _two_windows(case: Case, offset: int, step: int) -> tuple[Window, Window] | None:
    """The windows at checkpoint + offset and `step` later, or None if either is not on air."""
    start = case.timeline.start_us + offset
    first = _window_or_none(case.timeline, start)
    second = _window_or_none(case.timeline, start + step)
    return None if first is None or second is None else (first, second)


def _same_segment(a: Slot, b: Slot) -> bool:
    return (
        a.media_sequence == b.media_sequence
        and a.start_us == b.start_us
        and a.duration_us == b.duration_us
        and a.discontinuity_sequence == b.discontinuity_sequence
        and a.asset.key == b.asset.key
        and a.segment == b.segment
    )


instants = st.integers(0, 45 * DAY_US)
fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(cases(), instants, st.integers(1, 120 * US_PER_S))
def test_media_sequence_rises_by_the_number_of_segments_that_left(
    case: Case, offset: int, step: int
) -> None:
    windows = _two_windows(case, offset, step)
    if windows is None:
        return
    first, second = windows
    left = [s for s in first.slots if s.media_sequence < second.media_sequence]
    assert second.media_sequence - first.media_sequence >= len(left)
    if second.media_sequence <= first.last_media_sequence + 1:
        assert second.media_sequence - first.media_sequence == len(left)


@fast
@given(cases(), instants, st.integers(1, 120 * US_PER_S))
def test_a_segment_never_changes_across_windows(case: Case, offset: int, step: int) -> None:
    windows = _two_windows(case, offset, step)
    if windows is None:
        return
    first, second = windows
    later = {s.media_sequence: s for s in second.slots}
    for slot in first.slots:
        if slot.media_sequence in later:
            assert _same_segment(slot, later[slot.media_sequence])


@fast
@given(cases(), instants)
def test_window_lasts_at_least_three_target_durations(case: Case, offset: int) -> None:
    window = _window_or_none(case.timeline, case.timeline.start_us + offset)
    if window is None:
        return
    total = sum(s.duration_us for s in window.slots)
    assert total >= 3 * TARGET_DURATION_S * US_PER_S
    assert total >= case.timeline.plan.channel.window_us


@fast
@given(cases(), instants)
def test_window_lists_exactly_the_finished_segments(case: Case, offset: int) -> None:
    now = case.timeline.start_us + offset
    window = _window_or_none(case.timeline, now)
    if window is None:
        return
    assert window.slots[-1].end_us <= now < window.next_change_us
    following = case.timeline.slot(window.last_media_sequence + 1)
    assert following.start_us <= now < following.end_us
    assert window.next_change_us == following.end_us


@fast
@given(cases(), st.integers(0, 400))
def test_segments_are_contiguous_and_discontinuities_follow_the_successor_rule(
    case: Case, count: int
) -> None:
    timeline = case.timeline
    previous = timeline.slot(timeline.first_media_sequence)
    assert previous.start_us == timeline.start_us
    assert not previous.discontinuity
    assert previous.discontinuity_sequence == timeline.plan.checkpoint.discontinuity_sequence
    for msn in range(timeline.first_media_sequence + 1, timeline.first_media_sequence + count):
        slot = timeline.slot(msn)
        assert slot.start_us == previous.end_us
        successor = (
            slot.asset.key == previous.asset.key
            and slot.segment == previous.segment + 1
            and not slot.asset.renditions[0].segments[slot.segment].discontinuity
        )
        assert slot.discontinuity == (not successor)
        assert slot.discontinuity_sequence == previous.discontinuity_sequence + slot.discontinuity
        assert timeline.media_sequence_at(slot.start_us) == msn
        assert timeline.media_sequence_at(slot.end_us - 1) == msn
        previous = slot


@fast
@given(cases())
def test_every_block_starts_within_half_a_segment_of_its_schedule(case: Case) -> None:
    limit = _max_segment_us(case) // 2 + 1
    for group in case.timeline.groups:
        if group.kind is GroupKind.BLOCK:
            assert group.scheduled_start_us is not None
            assert abs(group.start_us - group.scheduled_start_us) <= limit


@fast
@given(cases())
def test_a_block_plays_a_prefix_of_its_clip_and_stops_near_the_next_block(case: Case) -> None:
    plan = case.timeline.plan
    starts = sorted(b.start_us for b in plan.blocks)
    limit = _max_segment_us(case) // 2 + 1
    for group in case.timeline.groups:
        if group.kind is not GroupKind.BLOCK or group.block_index is None:
            continue
        block = plan.blocks[group.block_index]
        assert group.runs[0].first_segment == block.clip.first_segment
        later = [s for s in starts if s > block.start_us]
        end = group.end_us
        assert end is not None
        if later:
            assert end <= later[0] + limit


@fast
@given(cases(), instants)
def test_rounded_segment_durations_never_exceed_the_target_duration(
    case: Case, offset: int
) -> None:
    window = _window_or_none(case.timeline, case.timeline.start_us + offset)
    if window is None:
        return
    for slot in window.slots:
        assert rounded_seconds(slot.duration_us) <= TARGET_DURATION_S


def test_a_block_forty_days_out_starts_on_time_with_a_drifting_slate() -> None:
    slate = make_asset("slate", [2_002_000, 2_002_000, 1_920_000])
    program = make_asset("show", [2_002_000] * 10)
    start = T0 + 40 * DAY_US + 1_000_000
    timeline = compile_timeline(
        make_plan([(T0, "show"), (start, "show")], slate="slate"),
        keyed({"slate": slate, "show": program}),
    )
    last = timeline.groups[-2]
    assert last.kind is GroupKind.BLOCK
    assert abs(last.start_us - start) <= 1_001_000


@fast
@given(cases(), instants, st.integers(1, 30 * US_PER_S))
def test_rendered_playlists_conform_and_variants_agree(case: Case, offset: int, step: int) -> None:
    windows = _two_windows(case, offset, step)
    if windows is None:
        return
    first, second = windows
    parsed = {
        (when, variant): parse_media_playlist(
            render_media_playlist(case.timeline, window, variant).decode()
        )
        for when, window in (("first", first), ("second", second))
        for variant in (0, 1)
    }
    violations = [v for p in parsed.values() for v in p.violations]
    for variant in (0, 1):
        violations += check_reload(parsed[("first", variant)], parsed[("second", variant)])
    for when in ("first", "second"):
        violations += check_variants({str(v): parsed[(when, v)] for v in (0, 1)})
    assert violations == []
    for seg, slot in zip(parsed[("first", 0)].segments, first.slots, strict=True):
        assert seg.dsn == slot.discontinuity_sequence


@st.composite
def edits(draw: st.DrawFn, case: Case) -> tuple[Plan, int]:
    """The case's plan with one block added, removed or moved, and the instant edited."""
    plan = case.timeline.plan
    blocks = list(plan.blocks)
    ids = sorted(a for a in case.assets if a != "slate")
    added = Block(
        plan.checkpoint.time_us + draw(st.integers(0, 900 * US_PER_S)),
        Clip(draw(st.sampled_from(ids))),
    )
    kind = draw(st.sampled_from(["add", "remove", "move"] if blocks else ["add"]))
    if kind == "add":
        return replace(plan, blocks=(*blocks, added)), added.start_us
    removed = blocks.pop(draw(st.integers(0, len(blocks) - 1)))
    if kind == "remove":
        return replace(plan, blocks=tuple(blocks)), removed.start_us
    moved = replace(removed, start_us=added.start_us)
    return replace(plan, blocks=(*blocks, moved)), min(removed.start_us, moved.start_us)


@fast
@given(st.data())
def test_an_edit_never_changes_the_playlist_before_its_reach(data: st.DataObject) -> None:
    case = data.draw(cases())
    plan, edited_us = data.draw(edits(case))
    now = edited_us - edit_reach_us(plan.channel)
    before = _window_or_none(case.timeline, now)
    if before is None:
        return
    edited = compile_timeline(plan, keyed(case.assets))
    after = live_window(edited, now)
    assert render_media_playlist(edited, after, 0) == render_media_playlist(
        case.timeline, before, 0
    )


@fast
@given(st.data())
def test_compacting_a_plan_leaves_every_later_segment_unchanged(data: st.DataObject) -> None:
    case = data.draw(cases())
    timeline = case.timeline
    before = timeline.start_us + data.draw(st.integers(0, 41 * DAY_US))
    point = compaction_point(timeline, before)
    if point is None:
        return
    compacted = compile_timeline(compact(timeline.plan, point), keyed(case.assets))
    first = point.checkpoint.media_sequence
    assert compacted.first_media_sequence == first
    for msn in range(first + 1, first + data.draw(st.integers(2, 400))):
        original, kept = timeline.slot(msn), compacted.slot(msn)
        assert _same_segment(original, kept)
        assert original.discontinuity == kept.discontinuity
