"""Plan validation and specific timeline cases (the properties live in test_timeline_properties)."""

from __future__ import annotations

import pytest

from engine.errors import NotOnAir, PlanError
from engine.model import US_PER_S, AssetIndex, Checkpoint, Container
from engine.timeline import GroupKind, compile_timeline
from engine.window import live_window
from tests.factories import T0, keyed, make_asset, make_plan

S = US_PER_S


def _assets(**durations: list[int]) -> dict[str, AssetIndex]:
    return {name: make_asset(name, value) for name, value in durations.items()}


def test_unknown_asset_is_named() -> None:
    with pytest.raises(PlanError, match=r"blocks\.0: asset: unknown asset 'ghost'"):
        compile_timeline(make_plan([(T0, "ghost")]), keyed(_assets(slate=[2 * S])))


def test_segment_longer_than_target_duration_is_refused() -> None:
    assets = _assets(slate=[2 * S], long=[2_500_000])
    with pytest.raises(PlanError, match=r"2\.500 s segment, longer than .* target duration of 2 s"):
        compile_timeline(make_plan([(T0, "long")]), keyed(assets))


def test_segment_rounding_below_target_duration_is_accepted() -> None:
    assets = _assets(slate=[2 * S], ok=[2_499_999])
    compile_timeline(make_plan([(T0, "ok")]), keyed(assets))


def test_mixing_segment_formats_is_refused() -> None:
    assets = {
        "slate": make_asset("slate", [2 * S]),
        "cmaf": make_asset("cmaf", [2 * S], container=Container.FMP4),
    }
    with pytest.raises(PlanError, match="keeps one segment format"):
        compile_timeline(make_plan([(T0, "cmaf")]), keyed(assets))


def test_clip_outside_the_asset_is_refused() -> None:
    assets = _assets(slate=[2 * S], show=[2 * S] * 3)
    with pytest.raises(PlanError, match=r"segments \[1, 9\) are not within"):
        compile_timeline(make_plan([(T0, "show", 1, 9)]), keyed(assets))


def test_block_before_the_checkpoint_is_refused() -> None:
    assets = _assets(slate=[2 * S], show=[2 * S])
    with pytest.raises(PlanError, match="before the plan's checkpoint"):
        compile_timeline(make_plan([(T0 - S, "show")]), keyed(assets))


def test_slate_with_a_discontinuity_is_refused() -> None:
    assets = {"slate": make_asset("slate", [2 * S] * 2, discontinuities=[1])}
    with pytest.raises(PlanError, match="slate must not contain"):
        compile_timeline(make_plan([]), keyed(assets))


def test_gap_is_filled_with_looped_slate_to_the_nearest_boundary() -> None:
    assets = _assets(slate=[2 * S, 2 * S], show=[2 * S] * 2)
    timeline = compile_timeline(make_plan([(T0, "show"), (T0 + 13_100_000, "show")]), keyed(assets))
    kinds = [(g.kind, g.cycles, g.count) for g in timeline.groups]
    assert kinds == [
        (GroupKind.BLOCK, 1, 2),
        (GroupKind.SLATE, 2, 2),
        (GroupKind.SLATE, 1, 1),
        (GroupKind.BLOCK, 1, 2),
        (GroupKind.SLATE, None, 2),
    ]
    assert timeline.groups[3].start_us == T0 + 14 * S


def test_overrunning_block_is_cut_at_the_boundary_nearest_the_next_start() -> None:
    assets = _assets(slate=[2 * S], show=[2 * S] * 10)
    timeline = compile_timeline(make_plan([(T0, "show"), (T0 + 7 * S, "show")]), keyed(assets))
    first, second = timeline.groups[0], timeline.groups[1]
    assert first.count == 4  # 0-8 s: ends 1 s late rather than starting 1 s early
    assert second.start_us == T0 + 8 * S


def test_filler_loops_after_the_last_block() -> None:
    assets = _assets(slate=[2 * S], show=[2 * S] * 2, loop=[2 * S] * 3)
    plan = make_plan([(T0, "show")], filler=["loop"])
    timeline = compile_timeline(plan, keyed(assets))
    later = timeline.slot(timeline.media_sequence_at(T0 + 3600 * S))
    assert later.asset.id == "loop"
    assert later.discontinuity_sequence == 1 + (3600 - 4) // 6


def test_window_before_the_first_full_window_is_not_on_air() -> None:
    assets = _assets(slate=[2 * S], show=[2 * S] * 10)
    timeline = compile_timeline(make_plan([(T0, "show")], window_us=12 * S), keyed(assets))
    with pytest.raises(NotOnAir) as caught:
        live_window(timeline, T0 + 11 * S)
    assert caught.value.until_us == T0 + 12 * S
    assert live_window(timeline, T0 + 12 * S).media_sequence == 0


def test_checkpoint_numbers_carry_into_the_window() -> None:
    assets = _assets(slate=[2 * S], show=[2 * S] * 10)
    plan = make_plan([(T0, "show")], checkpoint=Checkpoint(T0, 1000, 77), window_us=6 * S)
    window = live_window(compile_timeline(plan, keyed(assets)), T0 + 10 * S)
    assert (window.media_sequence, window.discontinuity_sequence) == (1002, 77)
