"""Plan changes (engine/changes.py) against compiling the whole plan (hypothesis): any sequence
of changes, applied one after another to what an engine holds, gives the timeline and the
playlists of compiling the final plan whole."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.changes import (
    PlanChange,
    Unbridgeable,
    apply_change,
    change_pieces,
    changed_plan,
    plan_pieces,
)
from engine.compaction import compact, compaction_point
from engine.errors import NotOnAir
from engine.model import US_PER_S, AssetIndex, Block, Break, Clip, Plan
from engine.render import render_media_playlist
from engine.timeline import Timeline, compile_timeline
from engine.window import live_window
from tests.engine.test_timeline_properties import DAY_US, Case, cases
from tests.factories import T0, keyed, make_asset, make_plan

fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ordered(case: Case) -> Timeline:
    """The case's plan with its blocks in order of start, as the feed sends plans."""
    plan = case.timeline.plan
    blocks = tuple(sorted(plan.blocks, key=lambda block: block.start_us))
    return compile_timeline(replace(plan, blocks=blocks), keyed(case.assets))


@st.composite
def blocks_from(draw: st.DrawFn, assets: dict[str, AssetIndex], from_us: int) -> list[Block]:
    ids = sorted(a for a in assets if a != "slate")
    starts = draw(st.lists(st.integers(0, 2 * 3600 * US_PER_S), max_size=5))
    blocks = []
    for offset in sorted(starts):
        asset = assets[draw(st.sampled_from(ids))]
        first = draw(st.integers(0, asset.segment_count - 1))
        end = draw(st.one_of(st.none(), st.integers(first + 1, asset.segment_count)))
        stop = asset.segment_count if end is None else end
        breaks = ()
        if draw(st.booleans()):
            breaks = (Break(draw(st.integers(first, stop)), draw(st.integers(1, 40)) * US_PER_S),)
        event_id = f"e{draw(st.integers(0, 10**9))}"
        blocks.append(Block(from_us + offset, Clip(asset.id, first, end), event_id, breaks))
    return blocks


@st.composite
def changes(draw: st.DrawFn, plan: Plan, assets: dict[str, AssetIndex]) -> PlanChange:
    """A change of the plan: the blocks from a random instant on replaced by random ones."""
    starts = [block.start_us for block in plan.blocks]
    from_us = draw(
        st.one_of(
            st.sampled_from(starts) if starts else st.nothing(),
            st.integers(plan.checkpoint.time_us, plan.checkpoint.time_us + 3 * 3600 * US_PER_S),
        )
    )
    blocks = tuple(draw(blocks_from(assets, from_us)))
    return PlanChange(plan.channel.id, plan.revision + 1, plan.checkpoint, None, from_us, blocks)


def _whole(plan: Plan, change: PlanChange, assets: dict[str, AssetIndex]) -> Timeline:
    """What compiling the changed plan whole gives."""
    changed, _ = changed_plan(plan, change)
    return compile_timeline(changed, keyed(assets))


def _playlists(timeline: Timeline, instants: list[int]) -> list[bytes | None]:
    found: list[bytes | None] = []
    for instant in instants:
        try:
            window = live_window(timeline, instant)
        except NotOnAir:
            found.append(None)
            continue
        found.append(render_media_playlist(timeline, window, 0))
    return found


@fast
@given(st.data())
def test_a_change_gives_the_timeline_of_the_whole_plan(data: st.DataObject) -> None:
    case = data.draw(cases())
    first = data.draw(changes(_ordered(case).plan, case.assets))
    held = _whole(_ordered(case).plan, first, case.assets)  # with ad breaks now
    change = data.draw(changes(held.plan, case.assets))
    applied = apply_change(held, change, keyed(case.assets))
    whole = _whole(held.plan, change, case.assets)
    assert applied.plan == whole.plan
    assert applied.groups == whole.groups
    assert applied.group_msns == whole.group_msns
    assert applied.group_starts == whole.group_starts
    assert applied.breaks == whole.breaks
    assert applied.block_firsts == whole.block_firsts
    assert dict(applied.uses) == dict(whole.uses)
    assert applied.version == whole.version


@fast
@given(st.data())
def test_a_sequence_of_changes_plays_like_the_final_plan(data: st.DataObject) -> None:
    case = data.draw(cases())
    held = _ordered(case)
    plan = held.plan
    for _ in range(data.draw(st.integers(1, 5))):
        change = data.draw(changes(plan, case.assets))
        held = apply_change(held, change, keyed(case.assets))
        plan, _ = changed_plan(plan, change)
    whole = compile_timeline(plan, keyed(case.assets))
    start = held.start_us
    instants = [start + data.draw(st.integers(0, 4 * 3600 * US_PER_S)) for _ in range(8)] + [
        start + data.draw(st.integers(0, 41 * DAY_US))
    ]
    assert _playlists(held, instants) == _playlists(whole, instants)


@fast
@given(st.data())
def test_a_moved_checkpoint_gives_the_compacted_plan(data: st.DataObject) -> None:
    case = data.draw(cases())
    held = _ordered(case)
    point = compaction_point(held, held.start_us + data.draw(st.integers(0, 41 * DAY_US)))
    if point is None or not held.plan.blocks[point.block_index].event_id:
        return
    compacted = compact(held.plan, point)
    change = PlanChange(
        held.plan.channel.id,
        held.plan.revision + 1,
        point.checkpoint,
        compacted.blocks[0],
        compacted.blocks[-1].start_us + 1,
        (),
    )
    applied = apply_change(held, change, keyed(case.assets))
    assert applied.groups == compile_timeline(compacted, keyed(case.assets)).groups


def _same_timeline(applied: Timeline, whole: Timeline) -> None:
    assert applied.plan == whole.plan
    assert applied.groups == whole.groups
    assert applied.group_msns == whole.group_msns
    assert applied.breaks == whole.breaks
    assert dict(applied.uses) == dict(whole.uses)


@fast
@given(st.data())
def test_a_plan_sent_in_pieces_gives_the_whole_plan(data: st.DataObject) -> None:
    case = data.draw(cases())
    whole = _ordered(case)
    first, rest = plan_pieces(whole.plan, data.draw(st.integers(1, 4)))
    held = compile_timeline(first, keyed(case.assets))
    for piece in rest:
        held = apply_change(held, piece, keyed(case.assets))
    _same_timeline(held, whole)


@fast
@given(st.data())
def test_a_change_sent_in_pieces_gives_the_change(data: st.DataObject) -> None:
    case = data.draw(cases())
    held = _ordered(case)
    change = data.draw(changes(held.plan, case.assets))
    for piece in change_pieces(change, data.draw(st.integers(1, 3))):
        held = apply_change(held, piece, keyed(case.assets))
    _same_timeline(held, _whole(_ordered(case).plan, change, case.assets))


def test_pieces_hold_about_the_weight_asked() -> None:
    blocks = tuple(Block(T0 + n * US_PER_S, Clip("a"), f"e{n}") for n in range(10))
    first, rest = plan_pieces(replace(make_plan([], slate="slate"), blocks=blocks), 4)
    assert [len(first.blocks), *(len(piece.blocks) for piece in rest)] == [4, 4, 2]
    assert [piece.from_us for piece in rest] == [T0 + 4 * US_PER_S, T0 + 8 * US_PER_S]


def test_a_moved_checkpoint_without_its_program_needs_the_whole_plan() -> None:
    assets = {a.id: a for a in (make_asset("slate", [2_000_000]), make_asset("a", [2_000_000]))}
    plan = replace(
        make_plan([], slate="slate"),
        blocks=(Block(T0, Clip("a"), "first"), Block(T0 + 10 * US_PER_S, Clip("a"), "second")),
    )
    held = compile_timeline(plan, keyed(assets))
    moved = replace(plan.checkpoint, time_us=T0 + 10 * US_PER_S, media_sequence=5)
    head = Block(moved.time_us, Clip("a"), "gone")
    change = PlanChange(plan.channel.id, 2, moved, head, moved.time_us, ())
    with pytest.raises(Unbridgeable):
        apply_change(held, change, keyed(assets))


def test_a_change_behind_the_plan_held_is_refused() -> None:
    assets = {a.id: a for a in (make_asset("slate", [2_000_000]), make_asset("a", [2_000_000]))}
    plan = replace(make_plan([], slate="slate"), revision=7)
    held = compile_timeline(plan, keyed(assets))
    change = PlanChange(plan.channel.id, 6, plan.checkpoint, None, T0, ())
    with pytest.raises(Unbridgeable):
        apply_change(held, change, keyed(assets))
