"""schedule_api.domain.events without I/O: clip snapping, overlap resolution and the lock
horizon, called directly."""

from __future__ import annotations

import pytest

from common.errors import Conflict, Invalid
from schedule_api.domain.events import Span, check_lock_horizon, resolve_overlaps, snap_clip
from tests.factories import T0, make_asset

S = 1_000_000
ASSET = make_asset("show", [2 * S, 2 * S, 3 * S, 2 * S])
"""Segment boundaries at 0, 2, 4, 7 and 9 s."""


def test_a_clip_in_point_snaps_to_the_nearest_segment_boundary() -> None:
    assert snap_clip(ASSET, 5_400_000, None).first_segment == 2


def test_a_clip_out_point_snaps_to_the_nearest_later_boundary() -> None:
    clip = snap_clip(ASSET, 0, 6 * S)
    assert (clip.end_segment, clip.duration_us) == (3, 7 * S)


def test_a_clip_point_halfway_between_boundaries_takes_the_earlier() -> None:
    assert snap_clip(ASSET, 3 * S, None).first_segment == 1


def test_a_clip_out_point_never_snaps_onto_its_in_point() -> None:
    clip = snap_clip(ASSET, 2 * S, 2_100_000)
    assert (clip.first_segment, clip.end_segment) == (1, 2)


def test_a_clip_in_point_past_the_end_names_its_field() -> None:
    with pytest.raises(Invalid) as error:
        snap_clip(ASSET, 9 * S, None, "events.2")
    assert error.value.field == "events.2.clip_in_seconds"


def test_a_clip_that_ends_before_it_begins_names_clip_out() -> None:
    with pytest.raises(Invalid) as error:
        snap_clip(ASSET, 4 * S, 3 * S)
    assert error.value.field == "clip_out_seconds"


def test_an_overlap_without_replace_is_a_conflict_naming_the_event_met() -> None:
    with pytest.raises(Conflict) as error:
        resolve_overlaps([Span("new", T0 + 5 * S, 10 * S)], [Span("old", T0, 10 * S)], False)
    assert "'old'" in error.value.reason


def test_a_rule_event_is_replaced_without_replace() -> None:
    old = Span("ruled", T0 + 6 * S, 10 * S, by_rule=True)
    assert resolve_overlaps([Span("new", T0, 10 * S)], [old], False).deleted == ("ruled",)


def test_replace_shortens_an_event_that_starts_before_the_new_one() -> None:
    resolution = resolve_overlaps(
        [Span("new", T0 + 5 * S, 10 * S)], [Span("old", T0, 10 * S)], True
    )
    assert resolution.shortened == (("old", T0 + 5 * S),)


def test_replace_deletes_an_event_that_starts_inside_the_new_one() -> None:
    resolution = resolve_overlaps(
        [Span("new", T0, 10 * S)], [Span("old", T0 + 5 * S, 10 * S)], True
    )
    assert resolution.deleted == ("old",)


def test_events_that_do_not_overlap_are_left_alone() -> None:
    resolution = resolve_overlaps(
        [Span("new", T0 + 10 * S, 5 * S)], [Span("old", T0, 10 * S)], False
    )
    assert (resolution.deleted, resolution.shortened) == ((), ())


def test_an_edit_at_the_earliest_editable_instant_is_allowed() -> None:
    check_lock_horizon([T0 + 12 * S], T0, 10 * S, 2 * S)


def test_an_edit_whose_reach_crosses_the_lock_horizon_is_a_conflict() -> None:
    with pytest.raises(Conflict) as error:
        check_lock_horizon([T0 + 12 * S - 1], T0, 10 * S, 2 * S)
    assert error.value.field == "start"


def test_the_earliest_touched_instant_decides() -> None:
    with pytest.raises(Conflict):
        check_lock_horizon([T0 + 60 * S, T0 + 5 * S], T0, 10 * S, 2 * S, "id")
