"""Schedule edits, without I/O: clip snapping, overlap resolution and the lock horizon.

An edit is described by the instants at which it changes the plan ("touched" instants): where
an event is added, removed or moved from, and where a shortened event now ends. The engine's
timeline can change at most `edit_reach_us` before such an instant (a property test in
tests/engine proves it), so an edit is allowed only when every touched instant minus that
reach lies at or after the lock horizon (now + LOCK_MARGIN_SECONDS). The horizon covers the
time engines need to pick up a new plan; everything an engine has served, or will serve
before then, stays exactly as it was.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from common.errors import Conflict, Invalid
from common.instants import format_date
from engine.model import US_PER_S, AssetIndex, Break, TrackType


@dataclass(frozen=True, slots=True)
class Span:
    """An event's nominal time: [start_us, start_us + duration_us)."""

    event_id: str
    start_us: int
    duration_us: int
    by_rule: bool = False
    """Made by a rule: an event written by hand replaces it without `replace`."""

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us

    def overlaps(self, other: Span) -> bool:
        return self.start_us < other.end_us and other.start_us < self.end_us


@dataclass(frozen=True, slots=True)
class SnappedClip:
    """A segment range of an asset version and its exact length."""

    first_segment: int
    end_segment: int
    duration_us: int


def _nearest_boundary(prefix: Sequence[int], at_us: int, low: int, high: int) -> int:
    """The index i in [low, high] whose boundary prefix[i] is nearest to at_us (earlier on
    a tie)."""
    i = min(max(bisect_left(prefix, at_us, low, high + 1), low), high)
    if i > low and at_us - prefix[i - 1] <= prefix[i] - at_us:
        return i - 1
    return i


def snap_clip(
    asset: AssetIndex, clip_in_us: int | None, clip_out_us: int | None, field: str = ""
) -> SnappedClip:
    """Clip in/out points moved to the nearest segment boundaries (the engine never cuts a
    segment); Invalid names the field when the clip is empty or outside the asset."""
    prefix, count = asset.prefix_us, asset.segment_count
    name = f"{field}." if field else ""
    if clip_in_us is not None and clip_in_us >= asset.duration_us:
        raise Invalid(
            f"{name}clip_in_seconds",
            f"is past the end of the asset ({asset.duration_us / US_PER_S:.3f} s)",
        )
    first = 0 if clip_in_us is None else _nearest_boundary(prefix, clip_in_us, 0, count - 1)
    if clip_out_us is None:
        end = count
    else:
        if clip_in_us is not None and clip_out_us <= clip_in_us:
            raise Invalid(f"{name}clip_out_seconds", "must be after clip_in_seconds")
        end = _nearest_boundary(prefix, clip_out_us, first + 1, count)
    return SnappedClip(first, end, prefix[end] - prefix[first])


@dataclass(frozen=True, slots=True)
class Resolution:
    """What an edit does to the events it overlaps: ids to delete, and ids to shorten."""

    deleted: tuple[str, ...]
    shortened: tuple[tuple[str, int], ...]
    """(event id, the instant by which it must end)."""


def resolve_overlaps(new: list[Span], existing: list[Span], replace: bool) -> Resolution:
    """Refuse overlaps (409 naming the event met), or with `replace` remove the events that
    start inside a new one and shorten those that start before it. A rule's events are
    always replaced: hand-made events take precedence."""
    deleted: list[str] = []
    shortened: dict[str, int] = {}
    for old in existing:
        hits = [span for span in new if span.overlaps(old)]
        if not hits:
            continue
        if not replace and not old.by_rule:
            first = hits[0]
            raise Conflict(
                "start",
                f"{format_date(first.start_us)} to {format_date(first.end_us)} overlaps event "
                f"{old.event_id!r} ({format_date(old.start_us)} to {format_date(old.end_us)}); "
                "send replace=true to replace it",
            )
        if old.start_us >= min(span.start_us for span in hits):
            deleted.append(old.event_id)
        else:
            shortened[old.event_id] = min(span.start_us for span in hits)
    return Resolution(tuple(deleted), tuple(sorted(shortened.items())))


def check_no_overlap_within(new: list[Span], field: str = "events") -> None:
    """422 naming the later of two events of one request that overlap each other."""
    ordered = sorted(enumerate(new), key=lambda item: item[1].start_us)
    for (earlier, a), (index, b) in pairwise(ordered):
        if a.overlaps(b):
            raise Invalid(
                f"{field}.{index}.start",
                f"overlaps {field}.{earlier} of the same request "
                f"(which runs until {format_date(a.end_us)})",
            )


def check_lock_horizon(
    touched_us: list[int], now_us: int, margin_us: int, reach_us: int, field: str = "start"
) -> None:
    """409 naming the horizon when an edit would change the timeline before it."""
    horizon = now_us + margin_us
    earliest = min(touched_us)
    if earliest - reach_us < horizon:
        raise Conflict(
            field,
            f"the edit changes the channel at {format_date(earliest)}, but everything before "
            f"the lock horizon {format_date(horizon)} (now + {margin_us / US_PER_S:g} s) is "
            f"fixed, and an edit can move the timeline up to {reach_us / US_PER_S:g} s "
            f"(one target duration) earlier: the earliest editable instant is "
            f"{format_date(horizon + reach_us)}",
        )


@dataclass(frozen=True, slots=True)
class BreakRule:
    """A channel's ad break rule, applied to the events written after it is set: a break
    every `every_us` of program (at the nearest allowed segment boundary; none at the very
    end) and, with `after_programs`, one at the end of every program. Each lasts
    duration_us."""

    duration_us: int
    every_us: int | None = None
    after_programs: bool = False


def break_boundaries(asset: AssetIndex, first: int, end: int) -> list[int]:
    """Segment indexes in [first, end] where a break may go: video segment boundaries that
    are also boundaries of every subtitle track (so a break never splits a subtitle segment,
    whose cues would show over the break)."""
    allowed = set(range(first, end + 1))
    for track, starts in zip(asset.tracks, asset.track_starts, strict=True):
        if track.type is TrackType.SUBTITLES:
            allowed &= set(starts)
    return sorted(allowed | {first, end})


def place_breaks(
    asset: AssetIndex,
    first: int,
    end: int,
    requested: Sequence[tuple[int, int]],
    field: str = "breaks",
) -> tuple[Break, ...]:
    """Breaks at (offset into the clip, duration), microseconds, moved to the nearest allowed
    boundary; Invalid names the break whose offset lies past the clip or lands where
    an earlier one did."""
    prefix = asset.prefix_us
    allowed = break_boundaries(asset, first, end)
    times = [prefix[i] - prefix[first] for i in allowed]
    placed: list[Break] = []
    for number, (offset_us, duration_us) in enumerate(requested):
        if offset_us > times[-1]:
            raise Invalid(
                f"{field}.{number}.offset_seconds",
                f"is past the end of the clip ({times[-1] / US_PER_S:.3f} s)",
            )
        at = allowed[_nearest_boundary(times, offset_us, 0, len(times) - 1)]
        if placed and at <= placed[-1].at_segment:
            raise Invalid(
                f"{field}.{number}.offset_seconds",
                "lands on or before the segment boundary of the break before it "
                f"({(prefix[at] - prefix[first]) / US_PER_S:.3f} s into the clip); "
                "breaks go in order, one per boundary",
            )
        placed.append(Break(at, duration_us))
    return tuple(placed)


def rule_breaks(asset: AssetIndex, first: int, end: int, rule: BreakRule) -> tuple[Break, ...]:
    """The breaks a channel's rule gives a clip (offsets that land on the same boundary, or
    on the end without after_programs, are dropped)."""
    prefix = asset.prefix_us
    length = prefix[end] - prefix[first]
    allowed = break_boundaries(asset, first, end)
    times = [prefix[i] - prefix[first] for i in allowed]
    found: list[Break] = []
    if rule.every_us:
        offset = rule.every_us
        while offset < length:
            at = allowed[_nearest_boundary(times, offset, 0, len(times) - 1)]
            if first < at < end and (not found or at > found[-1].at_segment):
                found.append(Break(at, rule.duration_us))
            offset += rule.every_us
    if rule.after_programs:
        found.append(Break(end, rule.duration_us))
    return tuple(found)


def breaks_us(breaks: Sequence[Break]) -> int:
    return sum(b.duration_us for b in breaks)


def shortened_program(
    asset: AssetIndex,
    first: int,
    end: int,
    breaks: Sequence[Break],
    start_us: int,
    by_us: int,
) -> tuple[int, tuple[Break, ...]]:
    """A program (clip and breaks) that starts at start_us cut to end by by_us: the new end
    segment (first when nothing fits: the event must go) and the breaks that stay (those
    before the new end)."""
    prefix = asset.prefix_us

    def length(e: int) -> int:
        return prefix[e] - prefix[first] + breaks_us([b for b in breaks if b.at_segment < e])

    low, high = first, end  # the largest e in [first, end] with length(e) <= budget
    budget = by_us - start_us
    while low < high:
        middle = (low + high + 1) // 2
        if length(middle) <= budget:
            low = middle
        else:
            high = middle - 1
    if low == end and length(end) + breaks_us([b for b in breaks if b.at_segment == end]) <= budget:
        return end, tuple(breaks)
    return low, tuple(b for b in breaks if b.at_segment < low)
