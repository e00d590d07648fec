"""schedule_api.domain.rules without I/O: loop, shuffle and time-slot materialisation."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model import US_PER_S
from schedule_api.domain.rules import (
    Cursor,
    GridSlot,
    Rule,
    RuleKind,
    materialise,
    shuffle_order,
)
from tests.factories import T0, make_asset

S = US_PER_S
HOUR = 3600 * S
ALPHA = make_asset("alpha", [2 * S] * 10)  # 20 s
BRAVO = make_asset("bravo", [2 * S] * 15)  # 30 s
CHARLIE = make_asset("charlie", [2 * S] * 20)  # 40 s
EVERY_DAY = frozenset(range(7))


def _loop(*items: object) -> Rule:
    return Rule("r", RuleKind.LOOP, T0, items=tuple(items))  # type: ignore[arg-type]


def test_a_loop_plays_its_list_in_order_back_to_back() -> None:
    result = materialise(_loop(ALPHA, BRAVO), Cursor(T0), [], T0, T0 + 100 * S)
    placed = [(p.asset.id, (p.start_us - T0) // S) for p in result.placements]
    assert placed == [("alpha", 0), ("bravo", 20), ("alpha", 50), ("bravo", 70)]


def test_a_loop_continues_from_its_cursor() -> None:
    first = materialise(_loop(ALPHA, BRAVO, CHARLIE), Cursor(T0), [], T0, T0 + 30 * S)
    second = materialise(_loop(ALPHA, BRAVO, CHARLIE), first.cursor, [], T0, T0 + 200 * S)
    assert [p.asset.id for p in second.placements][:2] == ["charlie", "alpha"]


def test_materialising_again_up_to_the_same_horizon_places_nothing() -> None:
    first = materialise(_loop(ALPHA), Cursor(T0), [], T0, T0 + HOUR)
    assert materialise(_loop(ALPHA), first.cursor, [], T0, T0 + HOUR).placements == ()


def test_occurrence_keys_never_repeat_across_runs() -> None:
    rule = _loop(ALPHA, BRAVO)
    cursor, keys = Cursor(T0), []
    for hour in range(1, 6):
        result = materialise(rule, cursor, [], T0, T0 + hour * HOUR)
        keys += [p.occurrence for p in result.placements]
        cursor = result.cursor
    assert len(keys) == len(set(keys))


def test_an_item_that_would_run_into_another_event_is_cut_at_a_segment_boundary() -> None:
    busy = [(T0 + 25 * S, T0 + 35 * S)]
    result = materialise(_loop(BRAVO), Cursor(T0), busy, T0, T0 + 36 * S)
    first = result.placements[0]
    assert (first.end_us - T0, first.cut) == (24 * S, True)


def test_rule_items_resume_after_another_event() -> None:
    busy = [(T0 + 20 * S, T0 + 35 * S)]
    result = materialise(_loop(ALPHA), Cursor(T0), busy, T0, T0 + 55 * S)
    assert [(p.start_us - T0) // S for p in result.placements] == [0, 35]


def test_nothing_is_placed_before_the_earliest_editable_instant() -> None:
    result = materialise(_loop(ALPHA), Cursor(T0), [], T0 + 100 * S, T0 + 200 * S)
    assert result.placements[0].start_us == T0 + 100 * S


@given(seed=st.integers(0, 2**31), count=st.integers(3, 9), cycles=st.integers(1, 4))
@settings(max_examples=60, deadline=None)
def test_a_shuffle_plays_every_item_once_per_cycle(seed: int, count: int, cycles: int) -> None:
    items = tuple(make_asset(f"a{i}", [2 * S] * 5) for i in range(count))
    rule = Rule("r", RuleKind.SHUFFLE, T0, items=items, seed=seed)
    result = materialise(rule, Cursor(T0), [], T0, T0 + cycles * count * 10 * S)
    ids = [p.asset.id for p in result.placements][: cycles * count]
    for c in range(cycles):
        assert Counter(ids[c * count : (c + 1) * count]) == Counter(a.id for a in items)


@given(seed=st.integers(0, 2**31), count=st.integers(3, 9))
@settings(max_examples=60, deadline=None)
def test_a_shuffle_never_plays_one_item_twice_in_a_row(seed: int, count: int) -> None:
    items = tuple(make_asset(f"a{i}", [2 * S] * 5) for i in range(count))
    rule = Rule("r", RuleKind.SHUFFLE, T0, items=items, seed=seed)
    ids = [p.asset.id for p in materialise(rule, Cursor(T0), [], T0, T0 + 600 * S).placements]
    assert all(a != b for a, b in itertools.pairwise(ids))


def test_a_shuffle_order_is_reproducible_from_its_seed() -> None:
    items = tuple(make_asset(f"a{i}", [2 * S]) for i in range(8))
    assert shuffle_order(items, 42, 3) == shuffle_order(tuple(reversed(items)), 42, 3)


def test_different_seeds_give_different_orders() -> None:
    items = tuple(make_asset(f"a{i}", [2 * S]) for i in range(8))
    assert shuffle_order(items, 1, 0) != shuffle_order(items, 2, 0)


def _slots(zone: str, at: time, filler: tuple[object, ...] = ()) -> Rule:
    return Rule(
        "r",
        RuleKind.SLOTS,
        T0,
        slots=(GridSlot(at, EVERY_DAY, (ALPHA, BRAVO)),),
        filler=filler,  # type: ignore[arg-type]
        time_zone=zone,
    )


def _instant(day: date, at: time, zone: str) -> int:
    return int(datetime.combine(day, at, ZoneInfo(zone)).timestamp()) * S


def test_slots_start_at_local_wall_clock_time_across_a_dst_change() -> None:
    zone = "Europe/Stockholm"
    start = _instant(date(2027, 3, 26), time(0, 0), zone)
    rule = _slots(zone, time(20, 0))
    result = materialise(rule, Cursor(start), [], start, start + 4 * 24 * HOUR)
    local = [
        datetime.fromtimestamp(p.start_us / S, ZoneInfo(zone)).strftime("%m-%d %H:%M %z")
        for p in result.placements
    ]
    assert local == [
        "03-26 20:00 +0100",
        "03-27 20:00 +0100",
        "03-28 20:00 +0200",
        "03-29 20:00 +0200",
    ]


def test_slots_play_the_next_episode_each_time() -> None:
    result = materialise(_slots("UTC", time(6, 0)), Cursor(T0), [], T0, T0 + 3 * 24 * HOUR)
    assert [p.asset.id for p in result.placements] == ["alpha", "bravo", "alpha"]


def test_filler_runs_from_a_slot_program_to_the_next_slot() -> None:
    rule = _slots("UTC", time(0, 0), filler=(CHARLIE,))
    result = materialise(rule, Cursor(T0), [], T0, T0 + 24 * HOUR + 1)
    filler = [p for p in result.placements if p.asset.id == "charlie"]
    assert (filler[0].start_us, filler[-1].end_us) == (T0 + 20 * S, T0 + 24 * HOUR)


def test_a_slot_taken_by_another_event_is_skipped_and_its_episode_waits() -> None:
    busy = [(T0 - 10 * S, T0 + 60 * S)]
    result = materialise(_slots("UTC", time(0, 0)), Cursor(T0), busy, T0, T0 + 48 * HOUR)
    assert [(p.asset.id, (p.start_us - T0) // HOUR) for p in result.placements] == [("alpha", 24)]


def test_weekly_slots_air_only_on_their_days() -> None:
    monday = int(datetime(2027, 1, 4, tzinfo=UTC).timestamp()) * S
    rule = Rule(
        "r",
        RuleKind.SLOTS,
        monday,
        slots=(GridSlot(time(12, 0), frozenset({0, 3}), (ALPHA,)),),
        time_zone="UTC",
    )
    result = materialise(rule, Cursor(monday), [], monday, monday + 14 * 24 * HOUR)
    days = [
        datetime.fromtimestamp(p.start_us / S, UTC).strftime("%a %d") for p in result.placements
    ]
    assert days == ["Mon 04", "Thu 07", "Mon 11", "Thu 14"]
