"""Rules that fill a channel's schedule ahead of time, without I/O.

A rule turns into ordinary events ("materialises") up to a horizon. The pure function
`materialise` takes the rule, its cursor (what it has already placed), the asset versions it
can choose from, the time other events already take ("busy"), the earliest instant an edit
may touch (the lock horizon plus the edit reach) and the horizon; it returns the events to
create and the new cursor. The store runs it inside one serialised write transaction and
writes the events and the cursor together, so a crash or a second materialiser can never
place an item twice. Each event also carries an occurrence key that is unique per rule (a
database constraint), the last line of defence.

Kinds:
- loop: the listed assets in order, repeated.
- shuffle: a collection in a seeded, reproducible order; every cycle is a permutation, so no
  item repeats before all have played, and a cycle never starts with the item that ended the
  previous one.
- slots: a daily or weekly grid in the channel's time zone. At each slot the next episode of
  the slot's collection starts; filler (the filler collection looped, or the slate when there
  is none) runs to the next slot. A slot's wall-clock time is converted with the zone's rules
  for that date, so 20:00 stays 20:00 across DST changes; a time that does not exist on a
  spring-forward day (02:30) airs at the same instant as the hour after it (03:30), and an
  ambiguous time on a fall-back day airs at its first occurrence.

Other events always win: a rule only fills free time, an item that would run into an event
is cut at that event's start (at a segment boundary), and a hand-made event written later
replaces the rule's events it overlaps.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from engine.model import US_PER_S, AssetIndex, Break
from schedule_api.domain.events import BreakRule, breaks_us, rule_breaks, shortened_program

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RuleKind(StrEnum):
    LOOP = "loop"
    SHUFFLE = "shuffle"
    SLOTS = "slots"


@dataclass(frozen=True, slots=True)
class GridSlot:
    """A grid position: local wall-clock time on some weekdays (0 = Monday)."""

    at: time
    weekdays: frozenset[int]
    items: tuple[AssetIndex, ...]
    """The slot's collection in episode order."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule with its collections resolved to asset versions."""

    id: str
    kind: RuleKind
    start_us: int
    items: tuple[AssetIndex, ...] = ()
    """loop: in order; shuffle: the collection (any order: it is sorted by id first)."""
    seed: int = 0
    slots: tuple[GridSlot, ...] = ()
    filler: tuple[AssetIndex, ...] = ()
    time_zone: str = "UTC"
    breaks: BreakRule | None = None
    """The channel's ad break rule: every placed item gets its breaks."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far a rule has materialised. Stored as JSON next to the rule."""

    next_us: int
    """Everything before this instant is materialised."""
    placed: int = 0
    """loop/shuffle: items placed so far (the position in the endless sequence)."""
    episodes: dict[str, int] = field(default_factory=dict)
    """slots: episodes placed per slot index."""
    fillers: int = 0
    """slots: filler items placed so far."""

    def to_json(self) -> dict[str, Any]:
        return {
            "next_us": self.next_us,
            "placed": self.placed,
            "episodes": dict(self.episodes),
            "fillers": self.fillers,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cursor:
        return cls(
            next_us=int(data["next_us"]),
            placed=int(data.get("placed", 0)),
            episodes={str(k): int(v) for k, v in dict(data.get("episodes", {})).items()},
            fillers=int(data.get("fillers", 0)),
        )


@dataclass(frozen=True, slots=True)
class Placement:
    """One event a rule creates: a clip of an asset version from its first segment."""

    occurrence: str
    asset: AssetIndex
    start_us: int
    end_segment: int
    """Segments played; fewer than the asset has when the item was cut."""
    breaks: tuple[Break, ...] = ()

    @property
    def clip_us(self) -> int:
        return self.asset.prefix_us[self.end_segment]

    @property
    def duration_us(self) -> int:
        """The clip and its ad breaks."""
        return self.clip_us + breaks_us(self.breaks)

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us

    @property
    def cut(self) -> bool:
        return self.end_segment < self.asset.segment_count


@dataclass(frozen=True, slots=True)
class Result:
    placements: tuple[Placement, ...]
    cursor: Cursor


def shuffle_order(items: Sequence[AssetIndex], seed: int, cycle: int) -> list[AssetIndex]:
    """The permutation a shuffle rule plays in one cycle (reproducible from seed and cycle)."""
    ordered = sorted(items, key=lambda a: a.id)
    if len(ordered) <= 2:
        return ordered

    def raw(c: int) -> list[AssetIndex]:
        permutation = list(ordered)
        random.Random(f"{seed}:{c}").shuffle(permutation)
        return permutation

    permutation = raw(cycle)
    if cycle > 0 and permutation[0].id == raw(cycle - 1)[-1].id:
        permutation[0], permutation[1] = permutation[1], permutation[0]
    return permutation


class _Placer:
    """Places items into the free time between busy intervals (which never overlap)."""

    def __init__(self, busy: Sequence[tuple[int, int]], breaks: BreakRule | None = None) -> None:
        self.break_rule = breaks
        self.busy = sorted(busy)
        self.ends = [end for _start, end in self.busy]
        self.placements: list[Placement] = []

    def obstacle(self, t: int) -> tuple[int, int] | None:
        """The first busy interval that ends after t."""
        i = bisect_right(self.ends, t)
        return self.busy[i] if i < len(self.busy) else None

    def free_from(self, t: int) -> int:
        """t, or the end of the busy interval(s) t falls in."""
        while (hit := self.obstacle(t)) is not None and hit[0] <= t:
            t = hit[1]
        return t

    def run(
        self,
        t: int,
        stop_us: int,
        hard: bool,
        item_at: Callable[[int], AssetIndex],
        counter: int,
        key: Callable[[int], str],
        max_items: int | None = None,
    ) -> tuple[int, int]:
        """Place item_at(counter), item_at(counter + 1), ... from t while the start is before
        stop_us (and at most max_items); with `hard` nothing runs past stop_us. Returns
        (where placing stopped, the counter after the last placed item)."""
        placed = 0
        while max_items is None or placed < max_items:
            t = self.free_from(t)
            if t >= stop_us:
                break
            hit = self.obstacle(t)
            limits = [hit[0]] if hit is not None else []
            if hard:
                limits.append(stop_us)
            asset = item_at(counter)
            end = asset.segment_count
            breaks: tuple[Break, ...] = ()
            if self.break_rule is not None:
                breaks = rule_breaks(asset, 0, end, self.break_rule)
            if limits and t + asset.duration_us + breaks_us(breaks) > min(limits):
                end, breaks = shortened_program(asset, 0, end, breaks, t, min(limits))
                if end == 0:  # not one segment fits: the gap plays the slate
                    if hit is not None and hit[0] < stop_us:
                        t = hit[1]
                        continue
                    return stop_us, counter
            placement = Placement(key(counter), asset, t, end, breaks)
            self.placements.append(placement)
            counter += 1
            placed += 1
            t = placement.end_us
        return t, counter


def _cycling(items: tuple[AssetIndex, ...]) -> Callable[[int], AssetIndex]:
    return lambda n: items[n % len(items)]


def _constant(key: str) -> Callable[[int], str]:
    return lambda _n: key


def _local_us(day: date, at: time, zone: ZoneInfo) -> int:
    """A wall-clock time on a day in a zone, as an instant (fold 0: see the module doc)."""
    local = datetime.combine(day, at, zone)
    return round(local.timestamp()) * US_PER_S


def slot_times(rule: Rule, from_us: int, until_us: int) -> list[tuple[int, int, str]]:
    """Slot occurrences (instant, slot index, key) from from_us to until_us, and the first one
    at or after until_us."""
    zone = ZoneInfo(rule.time_zone)
    day = datetime.fromtimestamp(from_us / US_PER_S, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(until_us / US_PER_S, zone).date() + timedelta(days=8)
    found: list[tuple[int, int, str]] = []
    while day <= last:
        for index, slot in enumerate(rule.slots):
            if day.weekday() in slot.weekdays:
                instant = _local_us(day, slot.at, zone)
                if instant >= from_us:
                    found.append((instant, index, f"s{index}@{day.isoformat()}"))
        day += timedelta(days=1)
    found.sort()
    inside = [o for o in found if o[0] < until_us]
    return inside + [o for o in found if o[0] >= until_us][:1]


def materialise(
    rule: Rule,
    cursor: Cursor,
    busy: Sequence[tuple[int, int]],
    from_us: int,
    until_us: int,
) -> Result:
    """Events the rule places in the free time from max(cursor, from_us) to until_us.

    busy: [start, end) of every other event of the channel that ends after from_us.
    """
    placer = _Placer(busy, rule.breaks)
    t = max(cursor.next_us, from_us)
    if rule.kind is RuleKind.SLOTS:
        return _fill_slots(rule, cursor, placer, t, until_us)
    items = rule.items
    if not items:
        return Result((), cursor)

    def item_at(n: int) -> AssetIndex:
        if rule.kind is RuleKind.LOOP:
            return items[n % len(items)]
        cycle, position = divmod(n, len(items))
        return shuffle_order(items, rule.seed, cycle)[position]

    t, placed = placer.run(t, until_us, False, item_at, cursor.placed, lambda n: f"n{n}")
    return Result(tuple(placer.placements), Cursor(max(t, until_us), placed=placed))


def _fill_slots(rule: Rule, cursor: Cursor, placer: _Placer, t: int, until_us: int) -> Result:
    """Time slots: each slot's next item at its time, filler in between."""
    episodes = dict(cursor.episodes)
    fillers = cursor.fillers
    filler = rule.filler

    occurrences = slot_times(rule, t, until_us)
    for i, (instant, index, key) in enumerate(occurrences):
        stop = min(instant, until_us)
        if filler and t < stop:
            # filler is cut at a slot, but may run past the horizon (the next run goes on
            # from where it ends)
            t, fillers = placer.run(
                t, stop, stop == instant, _cycling(filler), fillers, "f{}".format
            )
        t = max(t, instant)
        if instant >= until_us:
            break
        slot = rule.slots[index]
        if not slot.items or placer.free_from(instant) != instant:
            continue  # another event has this slot
        following = occurrences[i + 1][0] if i + 1 < len(occurrences) else until_us
        episode = episodes.get(str(index), 0)
        before = len(placer.placements)
        _end, episode = placer.run(
            instant,
            following,
            True,
            _cycling(slot.items),
            episode,
            _constant(key),
            max_items=1,
        )
        episodes[str(index)] = episode
        if len(placer.placements) > before:
            t = placer.placements[-1].end_us
    return Result(
        tuple(placer.placements), Cursor(max(t, until_us), episodes=episodes, fillers=fillers)
    )
